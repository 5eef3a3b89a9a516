"""The contract between training and prediction, numpy only: what a model sees for a Record.

Dataset builders and the Predictor both call these modules, so prepared data and prediction-time
input come from the same code; ``waves`` holds the P/QRS/T wave labels a delineator trains on and
the waves read back from its output; ``alike`` shares a beat model's V probability among the alike
beats of a record, in evaluation as in the Predictor. Imports only ``signal``, ``records`` and numpy/pandas/pydantic.
"""
