"""Networks, the checkpoint format, and export of a checkpoint to a Triton model repository.

Layer 3 (beside `search_workers.evaluators`): may import `search_workers.go` and
`search_workers.search`, never `search_workers.engines`, `search_workers.tasks` or `arena`.

    network.py          PolicyValueNet: features [B, 17, N, N] -> (policy logits [B, N*N+1], value [B])
    manifest.py         the checkpoint manifest (JSON) schema
    checkpoint.py       save / load / register checkpoints (safetensors, state dicts, TorchScript, ONNX)
    triton_export.py    a Triton model repository entry (GPU libtorch and CPU Python-backend flavours)
    demo.py             where the committed demo checkpoints are
    demo_training.py    the reproducible training run that produced them
"""
