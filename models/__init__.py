"""Networks, the checkpoint format, and export of a checkpoint to a Triton model repository.

Layer 3 (beside `search_workers.evaluators`): may import `search_workers.go` and
`search_workers.search`, never `search_workers.engines`, `search_workers.tasks` or `arena`.
The policy-value ResNet, the safetensors + JSON manifest checkpoint format and the demo
checkpoints arrive with the networks issue (2/5); nothing here yet.
"""
