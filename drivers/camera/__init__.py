"""Camera driver: frames in, events out; raw frames stay on the box unless snapshots are enabled.

Example (``drivers:`` entry of the agent config; geometry is normalised 0..1, x right, y down)::

    - name: cams
      driver: camera
      cameras:
        - name: pole17-north
          source: rtsp://user:pass@192.0.2.10/stream2     # or http(s)://..mjpg, /dev/video0, 0, a file
          width: 640
          height: 360
          detect_fps: 5
          stall_timeout_s: 10
          motion: {method: diff, threshold: 25, min_area: 0.002, masks: [[[0, 0], [1, 0], [1, 0.1]]]}
          inference: {model: yolo-traffic, confidence: 0.4, classes: [car, truck, person]}
          zones:
            - {name: bus-stop, polygon: [[0.6, 0.5], [0.95, 0.5], [0.95, 0.9], [0.6, 0.9]],
               classes: [car, truck], dwell_alarm_s: 120}          # -> illegal_parking (ALARM)
          lines:
            - {name: lane, points: [[0.5, 1.0], [0.5, 0.3]], directions: [eastbound, westbound]}
                                     # eastbound: moving right; a line_crossing event per crossing
          aggregate_period_s: 60     # readings zone.<z>.count.<class>, zone.<z>.entries.<class>,
                                     # line.<l>.<direction>.<class>
          snapshots: {enabled: false}                  # privacy by default

Every key is described in ``docs/camera-config.md`` (generated from ``config``). Counts are
published ``good`` only for periods the camera fully watched (``stale``: no frame at all,
``bad``: part of the period); an outage freezes tracks and dwell timers instead of emptying the scene.
A source that does not open is reported offline with a typed ``cause`` (unauthorized, not_found,
refused, timeout, ...) in its ``camera_state`` event and in ``edgepost status``.

Modules: ``config`` (pydantic only, imported by config validation), ``source`` (opening a source, why it
failed: ``open_cause``), ``capture`` (decode thread), ``ffmpeg_log``/``native_stderr`` (OpenCV's and
FFmpeg's output as structured log lines), ``motion``, ``analytics/`` (scene clock, tracker, zones,
lines), ``snapshot`` (the only place a picture is masked and encoded), ``still`` (the CLI's picture
without a daemon), ``worker`` (one camera's loop), ``driver`` (``CameraDriver``), ``inference/`` (the
ONNX runtime).
"""
