"""Static pictures of ECGs (matplotlib): the grid-paper printout."""
