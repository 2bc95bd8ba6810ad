"""Training data: read YOLO and COCO datasets, cut versioned class subsets, check their quality.

`yolo` reads a YOLO layout (images/ + labels/ + class names), `coco` a COCO instances JSON,
`subset` writes a versioned YOLO dataset from either, `check` finds defects in a YOLO dataset.
"""
