"""THE contract between training and prediction (numpy only): what a model sees of a Record.

Dataset builders and the Predictor both call these functions; nothing else cuts beats.
"""
