"""Real photos as training data for the aligned image head: crops like the detector's, a stable
tuning split, reproducible augmented views, and the supervised-contrastive masks."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from catalens.training.aligned import realphoto
from catalens.training.aligned.categories import CLOTHING_TYPES, DETECTION_TYPES, phrase
from catalens.training.aligned.photo_terms import supcon, supcon_masks
from catalens.training.aligned.view_features import render
from core.detection.crop_policy import crop_rejection, padded_box
from core.domain import Box
from core.settings import CropSettings

LINES = [
    "0 0.5 0.5 0.2 0.1",  # kept
    "9 0.1 0.95 0.05 0.04",  # too small: dropped by the crop policy
    "2 0.5 0.5 0.98 0.05",  # thinner than 1:7 after padding: dropped
    "7 0.3 0.6 0.4 0.7",  # kept, clipped at the image edge when padded
]


def _yolo(tmp_path, width=400, height=600):
    for split in ("train", "val"):
        (tmp_path / "images" / split).mkdir(parents=True)
        (tmp_path / "labels" / split).mkdir(parents=True)
        for stem in ("a", "b"):
            Image.new("RGB", (width, height), (90, 120, 30)).save(
                tmp_path / "images" / split / f"{stem}.jpg"
            )
            (tmp_path / "labels" / split / f"{stem}.txt").write_text("\n".join(LINES))
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(DETECTION_TYPES))
    (tmp_path / "data.yaml").write_text(
        f"path: .\ntrain: images/train\nval: images/val\nnames:\n{names}\n"
    )
    return tmp_path


def test_detection_crops_are_the_crops_the_detectors_crop_policy_makes(tmp_path):
    root = _yolo(tmp_path)
    settings = CropSettings()
    expected = []
    for line in LINES:
        cls, cx, cy, w, h = line.split()
        x, y, bw, bh = float(cx) * 400, float(cy) * 600, float(w) * 400, float(h) * 600
        box = padded_box(Box(x - bw / 2, y - bh / 2, x + bw / 2, y + bh / 2), 0.1, 400, 600)
        if crop_rejection(box, settings) is None:
            expected.append((list(DETECTION_TYPES)[int(cls)], box.as_tuple()))
    photos = realphoto.detection_photos(root, "val")
    assert [(p.label, p.box) for p in photos] == expected * 2
    assert {p.label for p in photos} == {"sunglass", "dress"}


def test_the_tuning_split_keeps_a_photos_boxes_together_and_is_stable(tmp_path):
    photos = realphoto.detection_photos(_yolo(tmp_path), "train") * 50
    photos = [
        realphoto.Photo(p.path.with_name(f"{i // 4}.jpg"), p.label, p.source, p.box)
        for i, p in enumerate(photos)
    ]
    rest, tune = realphoto.split_tune(photos, 0.2, seed=0)
    assert not {p.path for p in rest} & {p.path for p in tune}
    assert 0.05 < len(tune) / len(photos) < 0.4
    assert realphoto.split_tune(list(reversed(photos)), 0.2, seed=0)[1] == list(reversed(tune))


def test_every_class_maps_to_catalog_types_and_has_a_phrase():
    for table in (DETECTION_TYPES, CLOTHING_TYPES):
        assert all(types for types in table.values())
    assert phrase("fashion-detection", "shirt") == "top"
    assert phrase("clothing-small", "shirt") == "shirt"
    assert phrase("clothing-small", "outwear") == "jacket"


def test_a_view_is_the_box_crop_and_flip_mirrors_it(tmp_path):
    path = tmp_path / "p.jpg"
    picture = np.full((200, 160, 3), 255, dtype=np.uint8)
    picture[40:160, 30:130] = (200, 30, 30)
    Image.fromarray(picture).save(path)
    plain = np.asarray(render(path, (0, 0, 100, 120), "plain"))
    assert plain.shape == (120, 100, 3)
    flipped = np.asarray(render(path, (0, 0, 100, 120), "flip"))
    assert np.array_equal(flipped, plain[:, ::-1])
    assert np.asarray(render(path, None, "plain")).shape == (200, 160, 3)


def test_a_street_crop_is_positive_with_the_catalog_types_its_class_stands_for():
    # catalog types: 0 Jackets, 1 Tshirts, 2 Watches; classes: 0 jacket (street), 1 t-shirt
    # (clothing-small, overlaps a street "shirt" = 2 that also covers Tshirts)
    has_type = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 1, 0]], dtype=torch.bool)
    overlap = has_type.float() @ has_type.float().T > 0
    types, cls = torch.tensor([0, 1, 2, 0]), torch.tensor([0, 1, 2])
    positive, valid = supcon_masks(types, cls, has_type, overlap)
    jacket, tshirt, street_shirt = 4, 5, 6
    assert positive[jacket].tolist() == [True, False, False, True, False, False, False]
    assert positive[0, 3] and not positive[0, 1] and not positive[0, 0]
    assert positive[tshirt, 1] and positive[street_shirt, 1]
    assert not valid[tshirt, street_shirt] and not positive[tshirt, street_shirt]
    assert valid[jacket, tshirt] and not positive[jacket, tshirt]
    z = torch.nn.functional.normalize(torch.randn(7, 8), dim=-1)
    assert torch.isfinite(supcon(z, positive, valid, 0.1))


def test_the_photo_terms_teach_the_heads_to_put_photos_near_their_class_prompt():
    from catalens.training.aligned.fit import FitParams, PairData, fit_heads
    from catalens.training.aligned.photo_data import PhotoSet
    from catalens.training.aligned.photo_terms import PhotoTerms
    from core.embedding.aligned.heads import HeadConfig

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 32)).astype(np.float32)
    cls = np.repeat(np.arange(3), 40)
    photo_image = (centres[cls] + 0.8 * rng.normal(size=(120, 32))).astype(np.float32)
    prompts = rng.normal(size=(3, 2, 16)).astype(np.float32)
    photos = PhotoSet(
        image=photo_image[:, None],
        cls=cls,
        classes=[("clothing-small", c) for c in ("hat", "pants", "shoes")],
        prompts=prompts,
        class_types=[frozenset({"Caps"}), frozenset({"Jeans"}), frozenset({"Heels"})],
    )
    types = np.repeat(np.arange(3), 20)
    items = PairData(
        image=(centres[types] + 0.8 * rng.normal(size=(60, 32))).astype(np.float32)[:, None],
        text=rng.normal(size=(60, 16)).astype(np.float32),
        caption_ids=np.arange(60),
        item_captions=[[i] for i in range(60)],
    )
    terms = PhotoTerms(photos, types, ["Caps", "Jeans", "Heels"], 1.0, 1.0, 0.1, 64)
    heads = fit_heads(
        items,
        HeadConfig(image_in=32, text_in=16, dim=8, hidden=32, dropout=0.0),
        FitParams(epochs=40, batch_size=32, lr=3e-3, warmup_epochs=1),
        extra=terms,
    )
    with torch.inference_mode():
        images = heads.embed_images(torch.from_numpy(photo_image))
        text = heads.embed_texts(torch.from_numpy(prompts[:, 0]))
    accuracy = float(((images @ text.T).argmax(1).numpy() == cls).mean())
    assert accuracy > 0.8  # chance is 1/3
