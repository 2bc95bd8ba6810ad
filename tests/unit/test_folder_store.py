import pytest

from core.storage.folder_store import FolderObjectStore


async def test_a_stored_object_reads_back_and_is_gone_after_delete(tmp_path):
    store = FolderObjectStore(tmp_path)
    uri = await store.put("crops/ab/cd.jpg", b"jpeg-bytes")
    assert uri.startswith("file://") and uri.endswith("crops/ab/cd.jpg")
    assert await store.get("crops/ab/cd.jpg") == b"jpeg-bytes"
    await store.delete("crops/ab/cd.jpg")
    assert not await store.exists("crops/ab/cd.jpg")
    with pytest.raises(KeyError):
        await store.get("crops/ab/cd.jpg")


async def test_a_key_that_escapes_the_store_is_refused(tmp_path):
    store = FolderObjectStore(tmp_path / "store")
    with pytest.raises(ValueError, match="escapes"):
        await store.put("../outside.txt", b"x")
