"""The preparation machinery every source shares: the builder registry and its context, option
parsing, record selection and splits, AAMI labels, the reading workers, the streaming writer,
the on-disk PreparedDataset and the cache fingerprint."""
