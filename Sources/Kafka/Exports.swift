// The message types, error codes and partitioners are part of this module's API.
@_exported import KafkaProto
