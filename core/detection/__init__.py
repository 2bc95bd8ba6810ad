"""Object detection: the YOLO adapter of the `Detector` port, its class presets, weight
references, and the crop policy that turns detections into searchable crops. Shared by the
detector service (catalog uploads) and the query service (the objects in a query photo)."""
