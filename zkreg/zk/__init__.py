"""Zero-knowledge inference proofs.

Pipeline: ONNX model -> settings (calibrated once, published) -> compiled circuit -> SRS -> setup (vk published,
pk kept in the owner's cache) -> witness + proof for an input -> signed proof bundle. Verify = check the proof
against the published vk, settings and SRS, check that the proof binds to the manifest's commitment, and read the
output only from the proof's public instances.

`backend` is the small interface a proof system implements; `ezkl_backend` is the one we ship. Its heavy steps run
in a child process (`runner`) because the proving library aborts the process on out-of-memory.
"""
