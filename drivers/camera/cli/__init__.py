"""The camera driver's ``edgepost`` commands (``edgepost model ...``), mounted through the ``edgepost.cli``
entry point. numpy/cv2/onnxruntime are imported inside the commands only."""
