"""ONNX inference runtime for cameras: manifests, one shared session per model, pure decoders, OTA update.

Kept import-light on purpose: ``config`` and ``manifest`` need only pydantic; ``preprocess``,
``postprocess``, ``runner``, ``pool`` and ``update`` import numpy/cv2/onnxruntime and are only
imported when a camera is configured.

Public API (for the camera driver)::

    from drivers.camera.inference.config import InferenceConfig
    from drivers.camera.inference.detection import Detection
    from drivers.camera.inference.pool import SessionPool

    pool = SessionPool()                              # one per agent
    model = await pool.acquire(InferenceConfig(model="text-direction"))
    detections = await model.detect(frame_bgr)        # list[Detection], original-frame pixels
    model.labels, model.sha256, model.manifest        # what is loaded now (an update may swap it)
    await pool.release(model)                         # or: await pool.close()

Model update (downlink command or CLI)::

    from drivers.camera.inference.update import update_model
    result = await update_model(name, model_file, manifest_file, models_dir=..., pool=pool)
    record = result.event(device)  # Event kind model_updated / model_update_failed
"""
