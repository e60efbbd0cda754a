// A program that serves or uses the embedded cluster also speaks to it with the client.
@_exported import Kafka
