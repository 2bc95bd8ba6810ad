"""The Kafka transport: the same handlers as the in-process bus, one FastStream app per service.

- `broker.make_broker`: a KafkaBroker whose producer is idempotent with acks=all
- `topics.ensure_topics`: the pipeline topics and their `.dlq` twins
- `route.Route` / `route.RouteRunner`: topic → decode → handler → publish → commit
- `s3_events.parse_s3_event`: MinIO bucket notifications → ImageUploaded / ImageDeleted
- `service.service_app`: the lifespan every service shares (topics, metrics, ports, routes)
"""
