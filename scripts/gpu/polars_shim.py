"""A tiny pandas-backed stand-in for the few polars calls ultralytics training makes
(read_csv -> to_dict / select / columns; DataFrame(array, schema=...)[col]). GPU job only:
the real polars wheel (~40 MB) does not fit the 64 MiB the device tool carries."""

import io

import numpy as np
import pandas as pd


class DataFrame:
    def __init__(self, data=None, schema=None):
        if isinstance(data, pd.DataFrame):
            self._df = data
        elif isinstance(data, np.ndarray) and schema is not None:
            self._df = pd.DataFrame(data, columns=list(schema))
        else:
            self._df = pd.DataFrame(data)

    @property
    def columns(self):
        return [str(c) for c in self._df.columns]

    def __getitem__(self, key):
        return self._df[key].to_numpy()

    def select(self, column):
        return DataFrame(self._df[[column]])

    def to_numpy(self):
        return self._df.to_numpy()

    def to_dict(self, as_series=True):
        return {c: self._df[c].tolist() for c in self._df.columns}

    def write_csv(self, file=None):
        return self._df.to_csv(file, index=False)


def read_csv(source, infer_schema_length=None, **_):
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    frame = pd.read_csv(source)
    frame.columns = [str(c).strip() for c in frame.columns]
    return DataFrame(frame)
