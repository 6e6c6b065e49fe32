"""Export a shipped deblender's inference path to ONNX, for the GPU speed benchmark.

The exported graph is the network part of ``Deblender.deblend`` (without
symmetrisation): arcsinh-normalised stamps -> blend encoder (posterior mean) ->
frozen decoder -> normalised mean of the central galaxy. The normalisation
``y = arcsinh(x / s)`` and its inverse ``x = s sinh(y)`` (``s`` in uJy/pixel, written
to ``export.json``) stay outside the graph, because onnx2torch has no Asinh/Sinh;
the GPU script applies them on the GPU. It lets ``benchmarks/onnx_gpu_speed.py`` time the trained
network on a GPU machine where TensorFlow cannot be installed (the lent H200 has
PyTorch, no TensorFlow and no package registry). The script also writes reference
inputs and TensorFlow's outputs so the GPU run can check it computes the same thing.

Usage::

    python benchmarks/export_onnx.py --model analytic --data data/blended-test --out DIR

Needs ``tf2onnx`` and ``onnx`` (benchmark-only; not dependencies of the package):
``pip install tf2onnx onnx``. Writes ``DIR/deblender.onnx``, ``DIR/reference.npz``
(``stamps`` and ``deblended``, uJy/pixel) and ``DIR/export.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def split_transpose_padding(model):
    """Rewrite ConvTranspose nodes with padding as unpadded ConvTranspose + Slice.

    Keras' ``Conv2DTranspose(padding="same", strides=2)`` exports as ConvTranspose
    with asymmetric ``pads`` (0 before, 1 after), which onnx2torch cannot convert.
    A transposed convolution with pads ``(b_h, b_w, e_h, e_w)`` is the unpadded one
    cropped by ``b`` pixels at the start and ``e`` at the end of each spatial axis:
    the same numbers, in ops every runtime has.
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    nodes = []
    for node in graph.node:
        pads = next((a for a in node.attribute if a.name == "pads"), None)
        if node.op_type != "ConvTranspose" or pads is None or not any(pads.ints):
            nodes.append(node)
            continue
        begin_h, begin_w, end_h, end_w = pads.ints
        unpadded = node.output[0] + "_unpadded"
        attributes = [a for a in node.attribute if a.name != "pads"]
        conv = helper.make_node("ConvTranspose", list(node.input), [unpadded], name=node.name)
        conv.attribute.extend(attributes)
        big = np.iinfo(np.int64).max
        constants = {
            "starts": [begin_h, begin_w],
            "ends": [-end_h if end_h else big, -end_w if end_w else big],
            "axes": [2, 3],
        }
        names = []
        for key, value in constants.items():
            name = f"{node.name}_crop_{key}"
            graph.initializer.append(numpy_helper.from_array(np.array(value, np.int64), name))
            names.append(name)
        crop = helper.make_node(
            "Slice", [unpadded, *names], list(node.output), name=node.name + "_crop"
        )
        nodes.extend([conv, crop])
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="analytic", help="shipped name or deblender folder")
    parser.add_argument("--data", required=True, help="blended data set for the reference stamps")
    parser.add_argument("--n-reference", type=int, default=128)
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument("--opset", type=int, default=17)
    args = parser.parse_args()

    import numpy as np
    import onnx
    import tensorflow as tf
    import tf2onnx
    import tf_keras

    from data_generation.tfrecords import read_numpy
    from debvader_euclid import Deblender
    from debvader_euclid.models.losses import split_output

    deblender = Deblender.load(args.model)
    networks = deblender.networks
    norm = networks.normalizer
    size = deblender.stamp_size

    # The posterior mean of tfp.layers.MultivariateNormalTriL is the first latent_dim
    # of its parameters; exporting up to that Dense layer keeps the KL regulariser
    # (training only) out of the graph. reference.npz checks the result equals deblend().
    params_model = tf_keras.Model(
        networks.encoder.inputs, networks.encoder.get_layer("latent_params").output
    )
    latent_dim = networks.config.latent_dim
    # A PSF-conditioned deblender is exported for its reference PSF (deblend(..., psf=None)):
    # its PSF vector is then zero, a constant of the graph.
    n_psf = len(networks.config.psf_radii_pixels) if networks.config.psf_input else 0

    @tf.function(input_signature=[tf.TensorSpec([None, size, size], tf.float32, name="normalized")])
    def network(normalized: tf.Tensor) -> tf.Tensor:
        x = normalized[..., None]
        inputs = [x, tf.zeros([tf.shape(x)[0], n_psf])] if n_psf else x
        z = params_model(inputs, training=False)[:, :latent_dim]
        mean, _ = split_output(networks.decoder(z, training=False), networks.config)
        return tf.identity(mean, name="mean_normalized")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / "deblender.onnx"
    model_proto, _ = tf2onnx.convert.from_function(
        network,
        input_signature=network.input_signature,
        opset=args.opset,
    )
    onnx.save(split_transpose_padding(model_proto), str(onnx_path))

    data = read_numpy(args.data, fields="blend_noisy", max_examples=args.n_reference)
    stamps = np.asarray(data["blend_noisy"], np.float32)
    deblended = deblender.deblend(stamps)
    np.savez(out / "reference.npz", stamps=stamps, deblended=deblended)
    info = {
        "model": str(deblender.folder),
        "data": str(args.data),
        "n_reference": int(len(stamps)),
        "stamp_size_pixels": size,
        "normalization_scale_uJy_per_pixel": float(norm.scale),
        "opset": args.opset,
        "tensorflow": tf.__version__,
        "tf2onnx": tf2onnx.__version__,
        "onnx_sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
    }
    (out / "export.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
