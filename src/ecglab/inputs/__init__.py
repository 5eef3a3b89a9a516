"""The contract between training and prediction, numpy only: what a model sees for a Record.

Dataset builders and the Predictor both call these modules, so prepared data and prediction-time
input come from the same code. Imports only ``signal``, ``records`` and numpy/pandas/pydantic.
"""
