"""The gRPC API: `proto/arena/v1/arena.proto`, its generated code (`generated/`), the server.

    from arena.grpc.server import serve
    from arena.grpc.generated import arena_pb2, arena_pb2_grpc   # clients: arena_pb2_grpc.ArenaStub

Named after the protocol; it imports the `grpc` library with absolute imports, as everything does.
"""
