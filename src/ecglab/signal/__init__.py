"""Signal processing on plain arrays (n_leads, n_samples): filters, resampling, normalisation, beats."""
