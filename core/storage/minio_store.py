"""ObjectStore over a MinIO/S3 bucket with the `minio` client (blocking calls run in threads)."""

from __future__ import annotations

import asyncio
import io

from minio import Minio
from minio.error import S3Error

from core.errors import VersionChanged
from core.settings import MinioSettings
from schemas.ids import s3_uri


class MinioObjectStore:
    def __init__(self, client: Minio, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    @classmethod
    def connect(
        cls, endpoint: str, access_key: str, secret_key: str, bucket: str, secure: bool = False
    ) -> MinioObjectStore:
        client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure)
        if not client.bucket_exists(bucket):
            client.make_bucket(bucket)
        return cls(client, bucket)

    def uri(self, key: str) -> str:
        return s3_uri(self.bucket, key)

    async def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> str:
        await self.put_with_etag(key, data, content_type)
        return self.uri(key)

    async def put_with_etag(self, key: str, data: bytes, content_type: str) -> str:
        """Store `data`; return the stored version's etag (part of the streaming image id)."""
        result = await asyncio.to_thread(
            self.client.put_object,
            self.bucket,
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type,
        )
        return str(result.etag)

    async def etag(self, key: str) -> str | None:
        try:
            stat = await asyncio.to_thread(self.client.stat_object, self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchBucket"):
                return None
            raise
        return stat.etag

    async def get(self, key: str, version: str | None = None) -> bytes:
        """`version`: an etag; the read is conditional (If-Match), so a key overwritten since
        raises VersionChanged instead of answering with the newer bytes."""
        headers: dict[str, str | list[str] | tuple[str]] | None = (
            {"If-Match": f'"{version.strip(chr(34))}"'} if version else None
        )

        def read() -> bytes:
            response = self.client.get_object(self.bucket, key, request_headers=headers)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        try:
            return await asyncio.to_thread(read)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchBucket"):
                raise KeyError(key) from exc
            if exc.code == "PreconditionFailed":
                raise VersionChanged(key) from exc
            raise

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.remove_object, self.bucket, key)

    async def exists(self, key: str) -> bool:
        return await self.etag(key) is not None


async def open_minio_store(settings: MinioSettings, bucket: str) -> MinioObjectStore:
    """A store on `bucket` of the configured MinIO (the bucket is made if missing), opened in a
    thread: the client's calls block."""
    return await asyncio.to_thread(
        MinioObjectStore.connect,
        settings.endpoint,
        settings.access_key,
        settings.secret_key.get_secret_value(),
        bucket,
        settings.secure,
    )
