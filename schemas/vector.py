"""`Vector`: an embedding on the wire as little-endian float32/float16 bytes (base64 in JSON)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from schemas.base import Base64Bytes, StrictModel
from schemas.errors import SchemaError, from_validation_error

VectorDType = Literal["float32", "float16"]
_NUMPY_DTYPE: dict[str, str] = {"float32": "<f4", "float16": "<f2"}


class Vector(StrictModel):
    """A dense vector: `dim` little-endian values of `dtype`, never a JSON list of numbers."""

    dtype: VectorDType = Field(default="float32", description="element type of `data`")
    dim: int = Field(ge=1, le=65536, description="number of elements")
    data: Base64Bytes = Field(
        description="dim * itemsize little-endian bytes; standard base64 in JSON",
        repr=False,
    )

    @model_validator(mode="after")
    def _data_holds_dim_finite_values(self) -> Vector:
        itemsize = np.dtype(_NUMPY_DTYPE[self.dtype]).itemsize
        if len(self.data) != self.dim * itemsize:
            raise PydanticCustomError(
                "vector_size",
                "data holds {got} bytes, expected {dim} {dtype} values ({want} bytes)",
                {
                    "got": len(self.data),
                    "dim": self.dim,
                    "dtype": self.dtype,
                    "want": self.dim * itemsize,
                },
            )
        if not np.isfinite(np.frombuffer(self.data, dtype=_NUMPY_DTYPE[self.dtype])).all():
            raise PydanticCustomError("vector_finite", "data holds NaN or infinite values")
        return self

    @classmethod
    def from_numpy(cls, array: np.ndarray, dtype: VectorDType = "float32") -> Vector:
        """A vector from a 1-d array; raises SchemaError for other shapes or non-finite values."""
        values = np.asarray(array)
        if values.ndim != 1:
            raise SchemaError(f"expected a 1-d array, got shape {values.shape}", field="vector")
        with np.errstate(over="ignore", invalid="ignore"):
            data = values.astype(_NUMPY_DTYPE[dtype]).tobytes()
        try:
            return cls(dtype=dtype, dim=int(values.shape[0]), data=data)
        except ValidationError as exc:
            error = from_validation_error(exc)
            raise SchemaError(error.detail, field="vector") from None

    def to_numpy(self) -> np.ndarray:
        """The values as a float32 array of shape (dim,)."""
        values = np.frombuffer(self.data, dtype=_NUMPY_DTYPE[self.dtype])
        if values.shape[0] != self.dim:
            raise SchemaError(
                f"data holds {values.shape[0]} {self.dtype} values, dim says {self.dim}",
                field="vector.dim",
            )
        return values.astype(np.float32)
