"""All settings, typed. Environment: prefix `CATALENS_`, nesting with `__`
(e.g. `CATALENS_DETECTOR__CONFIDENCE=0.4`, `CATALENS_CAPTIONER__API_KEY=...`).
The real stack's sub-models live in core/settings_infra.py and are re-exported here."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.paths import REPO_ROOT, default_data_dir, shared_path
from core.settings_infra import (
    InfraSettings,
    KafkaSettings,
    MinioSettings,
    MlflowSettings,
    PostgresSettings,
    StreamingSettings,
)

__all__ = [  # the real stack's models are re-exported from core.settings_infra
    "FASHION_DETECTOR",
    "CaptionerSettings",
    "CorsSettings",
    "CropSettings",
    "DetectorSettings",
    "Device",
    "EmbedderSettings",
    "FusionSettings",
    "FusionSource",
    "IndexSettings",
    "InfraSettings",
    "KafkaSettings",
    "MinioSettings",
    "MlflowSettings",
    "PostgresSettings",
    "QuerySettings",
    "SearchSettings",
    "Settings",
    "StreamingSettings",
    "default_detector_model",
]

Device = Literal["cpu", "cuda"]
FASHION_DETECTOR = REPO_ROOT / "models" / "fashion-detector" / "yolov8n-fashion.pt"


def default_detector_model() -> str:
    found = shared_path("models", "yolov8n-coco", "yolov8n_int8.tflite")
    return str(found) if found else "yolov8n_int8.tflite"


class CropSettings(BaseModel):
    padding: float = Field(0.1, ge=0.0, le=1.0, description="padding as a share of box size")
    min_size: int = Field(32, ge=1, description="crops with a side below this many pixels drop")
    max_aspect: float = Field(7.0, ge=1.0, description="crops thinner than 1:max_aspect drop")
    keep_whole_image: bool = Field(True, description="also index the whole image (kind `image`)")


class DetectorSettings(BaseModel):
    """The object detector. Unless `model` is set, the weights follow the preset: `fashion`
    uses the clothing detector that ships in models/fashion-detector, the others the COCO
    int8 TFLite in ../shared/models."""

    model: str = Field(
        default_factory=default_detector_model,
        description="weights path or models:/name@alias (default: the preset's shipped weights)",
    )
    fallback: str | None = Field(None, description="local weights when the registry is down")
    reload_every_s: float = Field(
        60.0,
        ge=0,
        description="models:/ only: re-read the alias this often, swap in a new "
        "version between batches (0: never)",
    )
    preset: Literal["coco7", "fashion", "all"] = "coco7"
    classes: list[str] | None = Field(None, description="overrides the preset's class list")
    confidence: float = Field(0.25, ge=0.0, le=1.0)
    iou: float = Field(0.5, ge=0.0, le=1.0)
    imgsz: int = 640
    batch_size: int = Field(16, ge=1)
    device: Device = "cpu"
    runtime: Literal["torch", "openvino"] = Field(
        "openvino",
        description=".pt weights on the CPU: openvino = exported once to OpenVINO (cached in "
        "~/.cache/catalens/openvino) and run there; torch = ultralytics' PyTorch; other "
        "formats and CUDA run as they are",
    )
    max_side: int = Field(
        2048,
        ge=64,
        description="larger uploads are detected and cropped at this long side (pixels); "
        "boxes and sizes are kept in the original's pixels",
    )
    crop: CropSettings = CropSettings()

    @model_validator(mode="after")
    def _preset_weights(self) -> DetectorSettings:
        if "model" not in self.model_fields_set and self.preset == "fashion":
            self.__dict__["model"] = str(FASHION_DETECTOR)  # still "unset": follows the preset
        return self

    def with_preset(self, preset: str) -> DetectorSettings:
        """These settings for another preset; weights not set explicitly follow it."""
        return DetectorSettings.model_validate(
            {**self.model_dump(exclude_unset=True), "preset": preset}
        )


class EmbedderSettings(BaseModel):
    backend: Literal["aligned", "open_clip", "hf_clip"] = "aligned"
    model: str = Field(
        "",
        description="aligned: artifact dir or models:/name@alias; open_clip: model name; "
        "hf_clip: transformers CLIP folder, or org/repo in cache_dir",
    )
    fallback: str | None = Field(None, description="aligned artifact when the registry is down")
    pretrained: str | None = Field("openai", description="open_clip pretrained tag")
    cache_dir: Path | None = Field(
        None, description="open_clip weights / hf_clip snapshot cache (offline)"
    )
    batch_size: int = Field(32, ge=1)
    device: Device = "cpu"
    runtime: Literal["torch", "onnx"] = Field(
        "onnx",
        description="aligned image tower on the CPU: onnx = ONNX Runtime (exported once, cached "
        "in ~/.cache/catalens/onnx), torch = eager PyTorch; CUDA always runs torch",
    )
    reuse_vectors: bool = Field(
        True,
        description="embedded: the offline captioner's zero-shot tags reuse the vectors the "
        "embedder computed for the same crops (core/embedding/memo.py)",
    )


class CaptionerSettings(BaseModel):
    backend: Literal["auto", "openai", "offline"] = "auto"
    model: str = "gpt-4o"
    base_url: str | None = None
    api_key: SecretStr | None = None
    timeout_s: float = 30.0
    max_concurrency: int = Field(4, ge=1)
    max_retries: int = Field(5, ge=0)
    spend_cap_usd: float = Field(5.0, ge=0.0)
    cache_dir: Path | None = None
    input_usd_per_mtok: float | None = Field(
        None, ge=0.0, description="overrides the price table (e.g. 0 for a local VLM)"
    )
    output_usd_per_mtok: float | None = Field(None, ge=0.0)


class CorsSettings(BaseModel):
    allow_origins: list[str] = Field(default_factory=list, description="empty: CORS off")
    allow_methods: list[str] = Field(default_factory=lambda: ["GET", "POST", "DELETE"])
    allow_headers: list[str] = Field(default_factory=lambda: ["Authorization", "Content-Type"])


class QuerySettings(BaseModel):
    """The Litestar query service. `write_token` None means open writes: local demo mode only."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    write_token: SecretStr | None = Field(
        None, description="Bearer token for POST/DELETE /api/images; None = open (local demo)"
    )
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1)
    max_pixels: int = Field(40_000_000, ge=1)
    max_limit: int = Field(
        200, ge=1, le=200, description="largest page a search may ask for (the API documents 200)"
    )
    max_concurrent_decodes: int = Field(
        4, ge=1, description="uploads decoded at once (ingest, photo search); past it they wait"
    )
    decode_wait_s: float = Field(
        10.0, ge=0.0, description="how long an upload waits for a decode slot before a 503"
    )
    detect_objects: bool = Field(
        True, description="photo search detects the query photo's objects (shop the look)"
    )
    max_query_objects: int = Field(
        8, ge=1, le=32, description="most detected objects a query photo is searched by"
    )
    feed_poll_s: float = Field(1.0, gt=0.0, description="live feed polls catalog.recent this often")
    cors: CorsSettings = CorsSettings()


class FusionSource(BaseModel):
    """One ranked list that text search fuses: how much it counts and how deep it is read."""

    weight: float = Field(1.0, ge=0.0, description="its reciprocal ranks are multiplied by this")
    depth: int = Field(100, ge=1, le=1000, description="candidates it contributes per query")


class FusionSettings(BaseModel):
    """Fused text search: reciprocal-rank fusion (RRF) of the image vectors, the caption vectors
    and Postgres full-text search over captions and attributes. The defaults were tuned on
    held-back catalog products (docs/text_fusion.md): with offline captions the image vectors
    carry the ranking and the two caption sources only break near-ties, hence the small weights
    and k; richer captions (GPT-4o) may earn larger ones."""

    enabled: bool = Field(True, description="off: a text query ranks by the image vectors only")
    rrf_k: int = Field(3, ge=1, description="RRF's k: score = sum of weight / (k + rank)")
    image: FusionSource = FusionSource(weight=1.0, depth=100)
    caption: FusionSource = FusionSource(weight=0.1, depth=300)
    fulltext: FusionSource = FusionSource(weight=0.2, depth=300)

    def sources(self) -> dict[str, FusionSource]:
        """The fused sources by name, as `SearchHit.matched_by` names them."""
        return {"image": self.image, "caption": self.caption, "fulltext": self.fulltext}


class SearchSettings(BaseModel):
    fusion: FusionSettings = FusionSettings()


class IndexSettings(BaseModel):
    n_shards: int = Field(4, ge=1, description="FAISS shards (one per partition on the real stack)")
    index_type: Literal["Auto", "Flat", "HNSW", "IVF-SQ8"] = Field(
        "Auto",
        description="Auto: exact below exact_below vectors, then IVF-PQ fast-scan + float16 refine "
        "calibrated to recall_target (core/index/faiss_auto.py)",
    )
    exact_below: int = Field(20_000, ge=624, description="Auto: exact (Flat) search below this")
    recall_target: float = Field(
        0.95, gt=0, le=1, description="Auto: recall@10 the calibrated nprobe/k_factor aim for"
    )
    snapshot_every_s: float = Field(
        30.0, gt=0, description="streaming: snapshot changed shards (with offsets) this often"
    )
    alias_poll_s: float = Field(1.0, gt=0, description="streaming: how often to read the alias")
    alias: str = Field(
        "live",
        pattern=r"^[a-z0-9._-]{1,64}$",
        description="the alias naming the serving generation",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="IVF training on the GPU (faiss-gpu) or CPU; 'auto': GPU when present"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CATALENS_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    detector: DetectorSettings = DetectorSettings()
    embedder: EmbedderSettings = EmbedderSettings()
    captioner: CaptionerSettings = CaptionerSettings()
    postgres: PostgresSettings = PostgresSettings()
    query: QuerySettings = QuerySettings()
    search: SearchSettings = SearchSettings()
    index: IndexSettings = IndexSettings()
    kafka: KafkaSettings = KafkaSettings()
    minio: MinioSettings = MinioSettings()
    streaming: StreamingSettings = StreamingSettings()
    mlflow: MlflowSettings = MlflowSettings()
    infra: InfraSettings = InfraSettings()
