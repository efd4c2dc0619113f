using System.Globalization;
using System.Text.Json.Serialization;

namespace CatsDogs.ML.Imaging;

/// <summary>Memory order of the input tensor.</summary>
public enum TensorLayout
{
    /// <summary>[batch, channel, height, width] (PyTorch, CNTK, the ONNX files shipped here).</summary>
    Nchw,

    /// <summary>[batch, height, width, channel] (Keras / TensorFlow exports).</summary>
    Nhwc,
}

/// <summary>Order of the colour channels the network was trained on.</summary>
public enum ChannelOrder
{
    /// <summary>Red, green, blue.</summary>
    Rgb,

    /// <summary>Blue, green, red (Caffe-style networks).</summary>
    Bgr,
}

/// <summary>How pixel values (0..255, in the spec's channel order) are turned into network inputs.</summary>
public enum NormalizationKind
{
    /// <summary>Raw 0..255 values; the network scales them itself.</summary>
    Raw,

    /// <summary>"caffe": subtract a per-channel mean (<see cref="PixelNormalization.Mean"/>, in channel order).</summary>
    CaffeMean,

    /// <summary>"caffe" with a per-pixel mean image read from <see cref="PixelNormalization.MeanImageFile"/>.</summary>
    CaffeMeanImage,

    /// <summary>"tf": x / 127.5 − 1, i.e. [-1, 1].</summary>
    Tf,

    /// <summary>"torch": (x / 255 − mean) / std with <see cref="PixelNormalization.Mean"/> and <see cref="PixelNormalization.Std"/>.</summary>
    Torch,
}

/// <summary>How a photo is brought to the network's input size when a view asks for the backbone's own framing.</summary>
public enum ResizePolicy
{
    /// <summary>Scale the whole photo to the input size, ignoring aspect ratio (Keras <c>load_img(target_size=…)</c>).</summary>
    Stretch,

    /// <summary>Scale the short side to the input size and crop the centre (torchvision's Resize + CenterCrop).</summary>
    ShortSideCenterCrop,
}

/// <summary>Pixel normalisation of a backbone; see <see cref="NormalizationKind"/>.</summary>
/// <param name="Kind">The normalisation family.</param>
/// <param name="Mean">Per-channel means in the spec's channel order (CaffeMean: 0..255 units; Torch: 0..1 units).</param>
/// <param name="Std">Per-channel standard deviations (Torch, 0..1 units).</param>
/// <param name="MeanImageFile">File name of an ONNX graph that subtracts a mean image (CaffeMeanImage).</param>
public sealed record PixelNormalization(
    NormalizationKind Kind,
    IReadOnlyList<float>? Mean = null,
    IReadOnlyList<float>? Std = null,
    string? MeanImageFile = null)
{
    /// <summary>Raw 0..255 values.</summary>
    public static PixelNormalization Raw { get; } = new(NormalizationKind.Raw);

    /// <summary>Keras "tf" mode: [-1, 1].</summary>
    public static PixelNormalization Tf { get; } = new(NormalizationKind.Tf);

    /// <summary>Keras "caffe" mode: BGR minus the ImageNet channel means (103.939, 116.779, 123.68).</summary>
    public static PixelNormalization Caffe { get; } = new(NormalizationKind.CaffeMean, [103.939f, 116.779f, 123.68f]);

    /// <summary>torchvision's ImageNet mean/std in RGB order.</summary>
    public static PixelNormalization Torch { get; } = new(NormalizationKind.Torch, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);

    /// <summary>A culture-invariant text that changes whenever the normalisation's effect could change.</summary>
    [JsonIgnore]
    public string Signature => string.Join(';', Kind.ToString(), Format(Mean), Format(Std), MeanImageFile ?? "");

    private static string Format(IReadOnlyList<float>? values) =>
        values is null ? "" : string.Join(',', values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
}

/// <summary>
/// Every fact about how a photo becomes one network input, in the spirit of timm's <c>pretrained_cfg</c>: size,
/// layout, channel order, value range and the backbone's own framing. The tensor writer is derived from it.
/// </summary>
public sealed record ImagePreprocessing
{
    /// <summary>Input width in pixels.</summary>
    public required int Width { get; init; }

    /// <summary>Input height in pixels.</summary>
    public required int Height { get; init; }

    /// <summary>Memory order of the input tensor.</summary>
    public TensorLayout Layout { get; init; } = TensorLayout.Nchw;

    /// <summary>Channel order of the input.</summary>
    public ChannelOrder ChannelOrder { get; init; } = ChannelOrder.Rgb;

    /// <summary>Value range and normalisation of the input.</summary>
    public required PixelNormalization Normalization { get; init; }

    /// <summary>How the photo is framed by a <see cref="ViewFraming.Native"/> view.</summary>
    public ResizePolicy Resize { get; init; } = ResizePolicy.Stretch;

    /// <summary>Floats in one input tensor (batch of one).</summary>
    [JsonIgnore]
    public int TensorLength => 3 * Width * Height;

    /// <summary>The input tensor's shape for a batch of <paramref name="batch"/>.</summary>
    public long[] TensorShape(long batch = 1) => Layout == TensorLayout.Nchw ? [batch, 3, Height, Width] : [batch, Height, Width, 3];

    /// <summary>
    /// A culture-invariant text that changes whenever the tensor fed to the network could change for the same photo
    /// and view; part of every feature-cache key.
    /// </summary>
    [JsonIgnore]
    public string Signature => string.Join(
        '|',
        "layout=" + Layout,
        "size=" + Width.ToString(CultureInfo.InvariantCulture) + "x" + Height.ToString(CultureInfo.InvariantCulture),
        "order=" + ChannelOrder,
        "norm=" + Normalization.Signature,
        "resize=" + Resize,
        "decoder=" + ImageDecoder.Version);
}
