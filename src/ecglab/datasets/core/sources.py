"""Which module registers each dataset name: imported only when that dataset is asked for, so that
listing the names (the command line's help) costs no import of any source module."""

DATASET_MODULES = {
    "synthetic": "ecglab.datasets.synthetic",
    "mitbih": "ecglab.datasets.mitbih",
    "svdb": "ecglab.datasets.svdb",
    "mitbih-csv": "ecglab.datasets.kaggle",
    "ptbdb-csv": "ecglab.datasets.kaggle",
    "ptbdb": "ecglab.datasets.ptbdb",
    "ptbxl": "ecglab.datasets.ptbxl",
    "cinc": "ecglab.datasets.cinc",
    "mimic-iv-ecg": "ecglab.datasets.mimic",
    "folder": "ecglab.datasets.folder",
    "ludb": "ecglab.datasets.ludb",
}
