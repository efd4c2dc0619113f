using System.Text.Json;
using System.Text.Json.Serialization;

namespace CatsDogs.ML.Onnx.Quantization;

/// <summary>How activation ranges are taken from the calibration runs.</summary>
internal enum CalibrationMethod
{
    /// <summary>The smallest and largest value seen (ONNX Runtime's default, <c>CalibrationMethod.MinMax</c>).</summary>
    MinMax,

    /// <summary>
    /// The given percentile of the absolute values (ONNX Runtime's <c>CalibrationMethod.Percentile</c>): clips rare
    /// outliers to spend the 256 levels on the bulk of the values.
    /// </summary>
    Percentile,
}

/// <summary>What to quantize and how to calibrate it.</summary>
internal sealed record QuantizationOptions
{
    /// <summary>The graph input the calibration tensors feed.</summary>
    public required string InputName { get; init; }

    /// <summary>
    /// The last tensor computed in int8: the feature map that feeds the global pooling. Every node after it (the
    /// pooling, the pooled output, an ImageNet head) stays float32.
    /// </summary>
    public required string FeatureMap { get; init; }

    /// <summary>
    /// How activation ranges are calibrated. Percentile by default: on the four real backbones (100 calibration photos,
    /// 100 others) it gave the same or a higher median cosine between int8 and float32 pooled features than min–max,
    /// and raised the least one from 0.9906 to 0.9952 on mobilenet_v2_tf2 (docs/quantization.md).
    /// </summary>
    public CalibrationMethod Method { get; init; } = CalibrationMethod.Percentile;

    /// <summary>The percentile of absolute values for <see cref="CalibrationMethod.Percentile"/> (ONNX Runtime's default).</summary>
    public double Percentile { get; init; } = 99.999;

    /// <summary>
    /// Quantize the first convolution too. Off by default: it reads the raw (mean-subtracted or scaled) image, whose
    /// 8-bit rounding costs accuracy, and it is a small share of the work.
    /// </summary>
    public bool QuantizeFirstConvolution { get; init; }

    /// <summary>
    /// Tensors whose producing node stays float32 (ONNX Runtime's <c>nodes_to_exclude</c>, named by output): a
    /// convolution's output, or the Relu or Clip output that follows it. Empty by default.
    /// </summary>
    public IReadOnlyList<string> FloatOutputs { get; init; } = [];
}

/// <summary>One calibration input: the network input tensor of one photo and the photo's SHA-256.</summary>
internal sealed record CalibrationSample(string PhotoSha256, float[] Tensor);

/// <summary>The uint8 quantization of one activation tensor: <c>real = Scale × (q − ZeroPoint)</c>.</summary>
internal sealed record TensorQuantization(string Name, float Scale, byte ZeroPoint);

/// <summary>
/// Everything that turns a float32 backbone file into its int8 QDQ graph, a few KB: the file it applies to, the
/// options, the calibration photos' hashes and one scale and zero point per quantized activation. Weights are
/// quantized from the file itself (per channel, symmetric), so this record and the file rebuild the same graph,
/// byte for byte, on any machine (<see cref="StaticQuantizer.Quantize"/>).
/// </summary>
internal sealed record QuantizationCalibration
{
    /// <summary>The version of this record's layout and of the graph rewrite it drives.</summary>
    public const int CurrentFormat = 1;

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The layout version (<see cref="CurrentFormat"/>).</summary>
    public int Format { get; init; } = CurrentFormat;

    /// <summary>SHA-256 (lower-case hex) of the float32 model file the calibration was made on.</summary>
    public required string ModelSha256 { get; init; }

    /// <summary>The options the calibration was made with.</summary>
    public required QuantizationOptions Options { get; init; }

    /// <summary>The calibration photos' SHA-256, in the order they were run.</summary>
    public required IReadOnlyList<string> PhotoSha256 { get; init; }

    /// <summary>The quantized activations, in graph order.</summary>
    public required IReadOnlyList<TensorQuantization> Tensors { get; init; }

    /// <summary>The record as indented JSON (culture-invariant; floats round-trip exactly).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a record written by <see cref="ToJson"/>.</summary>
    /// <exception cref="FormatException">The text is not such a record, or of another format version.</exception>
    public static QuantizationCalibration FromJson(string json)
    {
        QuantizationCalibration? record;
        try
        {
            record = JsonSerializer.Deserialize<QuantizationCalibration>(json, Json);
        }
        catch (JsonException e)
        {
            throw new FormatException($"it is not a quantization calibration ({e.Message})", e);
        }

        if (record is null || record.Tensors is null || record.PhotoSha256 is null || record.Options is null)
        {
            throw new FormatException("it is not a quantization calibration (a field is missing)");
        }

        return record.Format == CurrentFormat
            ? record
            : throw new FormatException($"its calibration format is {record.Format}; this library reads format {CurrentFormat}");
    }
}
