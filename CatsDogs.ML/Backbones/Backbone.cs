using System.Globalization;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Onnx;
using CatsDogs.ML.Onnx.Quantization;
using Microsoft.ML.OnnxRuntime;

namespace CatsDogs.ML.Backbones;

/// <summary>Which output of a backbone a run reads.</summary>
internal enum BackboneOutput
{
    /// <summary>The globally pooled features.</summary>
    Pooled,

    /// <summary>The ImageNet classifier (<see cref="BackboneSpec.ImageNetHead"/>).</summary>
    ImageNetHead,
}

/// <summary>
/// An opened backbone: the single owner of its ONNX Runtime session, validated against its spec when opened. Runs
/// may be made from many threads at once (ONNX Runtime sessions allow concurrent runs). Opened and disposed by a
/// <see cref="BackboneSet"/>.
/// </summary>
internal sealed class Backbone : IDisposable
{
    private readonly InferenceSession _session;
    private readonly long[] _inputShape;
    private readonly long[] _pooledShape;
    private readonly string[] _inputNames;

    private Backbone(BackboneSpec spec, string modelPath, string modelSha256, string? meanImageSha256, InferenceSession session, TensorWriter writer, long[] pooledShape)
    {
        Spec = spec;
        ModelPath = modelPath;
        ModelSha256 = modelSha256;
        MeanImageSha256 = meanImageSha256;
        _session = session;
        Writer = writer;
        _inputShape = spec.Preprocessing.TensorShape();
        _pooledShape = pooledShape;
        _inputNames = [spec.InputName];
    }

    /// <summary>The spec this backbone was opened with.</summary>
    public BackboneSpec Spec { get; }

    /// <summary>The ONNX Runtime execution provider the session runs on: <c>CPU</c> or <c>CUDA:N</c>.</summary>
    public string ExecutionProvider { get; private init; } = "CPU";

    /// <summary>Why a requested GPU is not used (one line), or <c>null</c>.</summary>
    public string? ProviderNotice { get; private init; }

    /// <summary>Whether the session exposes <see cref="BackboneSpec.FeatureMapName"/> as an output.</summary>
    public bool HasFeatureMap { get; private init; }

    /// <summary>Where the ONNX file was found.</summary>
    public string ModelPath { get; }

    /// <summary>SHA-256 of the ONNX file.</summary>
    public string ModelSha256 { get; }

    /// <summary>SHA-256 of the mean-image file, for mean-image normalisation.</summary>
    public string? MeanImageSha256 { get; }

    /// <summary>Writes RGBA pixels as this backbone's input tensor.</summary>
    public TensorWriter Writer { get; }

    /// <summary>Locates, verifies and opens the backbone's file(s).</summary>
    /// <param name="spec">What the file should be.</param>
    /// <param name="modelsDirectory">An extra folder searched first.</param>
    /// <param name="expectedSha256">The hash a saved model was trained with, if any.</param>
    /// <param name="withFeatureMap">
    /// Also expose <see cref="BackboneSpec.FeatureMapName"/>, when the spec names one, as an output of the same session
    /// (for class activation maps). Not for scoring: measured with the four real backbones, exposing the maps raised
    /// the peak memory of scoring from 465 MiB to 1,037 MiB.
    /// </param>
    /// <param name="device">Where to run: <c>cpu</c>, or <c>cuda</c> / <c>cuda:N</c> (falls back to CPU, with <see cref="ProviderNotice"/>, where CUDA is unavailable).</param>
    /// <param name="inputSize">Run at this (square) input size instead of the spec's: the graph's input shape is rewritten in memory; the spec must be <see cref="BackboneSpec.ScalableInput"/>.</param>
    /// <param name="calibration">
    /// Run the int8 QDQ graph that <see cref="StaticQuantizer.Quantize"/> builds, in memory, from the file and this
    /// calibration (the feature map keeps its name, so the map-exposing and resized sessions are quantized alike); null
    /// for the float32 file as it is.
    /// </param>
    /// <exception cref="ArgumentException">The spec is invalid, or cannot run at <paramref name="inputSize"/>.</exception>
    /// <exception cref="BackboneFileNotFoundException">A file is missing.</exception>
    /// <exception cref="BackboneMismatchException">A file is not ONNX, its hash, names or shapes differ from the spec, or the calibration was made on another file.</exception>
    public static Backbone Open(BackboneSpec spec, string? modelsDirectory, string? expectedSha256 = null, bool withFeatureMap = false, string device = "cpu", int? inputSize = null, QuantizationCalibration? calibration = null)
    {
        BackboneSpecChecks.ThrowIfInvalid(spec);
        var resize = inputSize is { } side && (side != spec.Preprocessing.Width || side != spec.Preprocessing.Height);
        if (resize)
        {
            if (!spec.ScalableInput)
            {
                throw new ArgumentException($"Backbone '{spec.Name}' cannot run at {inputSize} px: its spec is not ScalableInput (its graph does not pool globally at every size, or its preprocessing has a fixed-size mean image). Use views without '@size' for it.");
            }

            spec = spec with { Preprocessing = spec.Preprocessing with { Width = inputSize!.Value, Height = inputSize.Value }, FeatureMapHeight = null, FeatureMapWidth = null };
        }

        var cudaDevice = ExecutionDevice.Parse(device);
        var (path, model, sha) = ReadFile(spec, modelsDirectory, expectedSha256);
        var graph = ReadGraph(model, path, spec);
        if (!graph.Inputs.Any(i => i.Name == spec.InputName))
        {
            // Checked before the feature map: a file for another network should be named as such.
            throw new BackboneMismatchException(path, $"'{path}' does not match backbone spec '{spec.Name}': it has no input named '{spec.InputName}'; "
                + $"its inputs are [{string.Join(", ", graph.Inputs)}].");
        }

        CheckFeatureMap(graph, path, spec);
        if (calibration is not null)
        {
            model = Quantized(model, calibration, path, spec);
            graph = ReadGraph(model, path, spec);
        }

        var exposeMap = withFeatureMap && spec.FeatureMapName is not null;
        var edited = exposeMap || resize
            ? graph.Edit(exposeMap ? [spec.FeatureMapName!] : [], resize ? (spec.InputName, spec.Preprocessing.Layout == TensorLayout.Nhwc, spec.Preprocessing.Width) : null)
            : model;
        if (calibration is not null)
        {
            // The float32 file and graph the int8 one was built from (ResNet18: about 140 MB) go back before the
            // session is made: without this, loading an int8 model peaked higher than loading the float32 one.
            ProcessMemory.Release();
        }

        var (session, provider, notice) = ExecutionDevice.OpenSession(edited, path, spec, cudaDevice);
        try
        {
            // The network file is checked first: a spec that disagrees with it is the likelier mistake.
            var pooledShape = Validate(session, path, spec);
            var (writer, meanSha) = WriterFor(spec, modelsDirectory);
            return new Backbone(spec, path, sha, meanSha, session, writer, pooledShape)
            {
                Calibration = calibration,
                HasFeatureMap = exposeMap,
                ExecutionProvider = provider,
                ProviderNotice = notice,
            };
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Locates and reads the backbone's ONNX file, checking its hash against the catalogue's and <paramref name="expectedSha256"/>.</summary>
    /// <exception cref="BackboneFileNotFoundException">The file is missing.</exception>
    /// <exception cref="BackboneMismatchException">Its hash differs.</exception>
    internal static (string Path, byte[] Bytes, string Sha256) ReadFile(BackboneSpec spec, string? modelsDirectory, string? expectedSha256 = null)
    {
        var path = ModelFiles.Locate(spec, spec.FileName, modelsDirectory);
        var model = ModelFiles.Read(path, spec);
        var sha = ModelFiles.Sha256(path, model);
        foreach (var (expected, why) in new[] { (spec.Sha256, "the catalogue expects"), (expectedSha256, "the saved model was trained with") })
        {
            if (expected is not null && !string.Equals(expected, sha, StringComparison.OrdinalIgnoreCase))
            {
                throw new BackboneMismatchException(path, $"'{path}' for backbone '{spec.Name}' has SHA-256 {sha}, but {why} {expected}. "
                    + $"Use the original file. {spec.HowToObtain}");
            }
        }

        return (path, model, sha);
    }

    /// <summary>The tensor writer of the spec's input (with its mean image, for mean-image normalisation, and that file's hash).</summary>
    /// <exception cref="BackboneFileNotFoundException">The mean-image file is missing.</exception>
    /// <exception cref="BackboneMismatchException">The mean-image file is not what the spec says.</exception>
    internal static (TensorWriter Writer, string? MeanImageSha256) WriterFor(BackboneSpec spec, string? modelsDirectory)
    {
        if (spec.Preprocessing.Normalization.Kind != NormalizationKind.CaffeMeanImage)
        {
            return (new TensorWriter(spec.Preprocessing, null), null);
        }

        var meanPath = ModelFiles.Locate(spec, spec.Preprocessing.Normalization.MeanImageFile!, modelsDirectory);
        var meanGraph = ModelFiles.Read(meanPath, spec);
        return (new TensorWriter(spec.Preprocessing, MeanImage.Load(meanGraph, meanPath, spec)), ModelFiles.Sha256(meanPath, meanGraph));
    }

    /// <summary>The int8 calibration its session was quantized with; null for float32.</summary>
    public QuantizationCalibration? Calibration { get; private init; }

    /// <summary>The int8 QDQ graph of a float32 file, or why the calibration does not fit it.</summary>
    /// <exception cref="BackboneMismatchException">The calibration was made on another file, or does not fit its graph.</exception>
    internal static byte[] Quantized(byte[] fp32, QuantizationCalibration calibration, string path, BackboneSpec spec)
    {
        try
        {
            return StaticQuantizer.Quantize(fp32, calibration);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            throw new BackboneMismatchException(path, $"'{path}' for backbone '{spec.Name}' cannot be quantized with the model's int8 calibration: {e.Message.TrimEnd('.')}.", e);
        }
    }

    /// <summary>Values per image of an output.</summary>
    public int OutputLength(BackboneOutput which) => which == BackboneOutput.Pooled
        ? Spec.FeatureDimension
        : Spec.ImageNetHead?.ClassCount ?? throw new InvalidOperationException($"Backbone '{Spec.Name}' has no ImageNet head; choose one whose spec has ImageNetHead (mobilenet_v2, mobilenet_v2_tf2).");

    /// <summary>Runs one input tensor (<see cref="TensorWriter.Length"/> floats) and writes the chosen output (<see cref="OutputLength"/> floats).</summary>
    public void Run(float[] input, float[] output, BackboneOutput which = BackboneOutput.Pooled)
    {
        using var inputValue = OrtValue.CreateTensorValueFromMemory(input, _inputShape);
        var (name, shape) = which == BackboneOutput.Pooled
            ? (Spec.PooledOutputName, _pooledShape)
            : (Spec.ImageNetHead!.OutputName, new long[] { 1, Spec.ImageNetHead.ClassCount });
        using var outputValue = OrtValue.CreateTensorValueFromMemory(output, shape);
        _session.Run(null, _inputNames, [inputValue], [name], [outputValue]);
    }

    /// <summary>
    /// Runs one input tensor and writes the pooled features into <paramref name="pooled"/>; returns the feature map
    /// and its shape (the session must expose it: <see cref="HasFeatureMap"/>).
    /// </summary>
    public (float[] Map, long[] Shape) RunWithMap(float[] input, float[] pooled)
    {
        if (!HasFeatureMap)
        {
            throw new InvalidOperationException($"Backbone '{Spec.Name}' was opened without its feature map.");
        }

        using var inputValue = OrtValue.CreateTensorValueFromMemory(input, _inputShape);
        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, _inputNames, [inputValue], [Spec.PooledOutputName, Spec.FeatureMapName!]);
        outputs[0].GetTensorDataAsSpan<float>().CopyTo(pooled);
        return (outputs[1].GetTensorDataAsSpan<float>().ToArray(), outputs[1].GetTensorTypeAndShape().Shape);
    }

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();

    private static OnnxGraph ReadGraph(byte[] model, string path, BackboneSpec spec)
    {
        try
        {
            return OnnxGraph.Read(model);
        }
        catch (FormatException e)
        {
            throw new BackboneMismatchException(path, $"'{path}' for backbone '{spec.Name}' is not an ONNX model ({e.Message}). "
                + $"The file may be truncated or of another format. {spec.HowToObtain}", e);
        }
    }

    private static void CheckFeatureMap(OnnxGraph graph, string path, BackboneSpec spec)
    {
        if (spec.FeatureMapName is not null && !graph.HasTensor(spec.FeatureMapName))
        {
            throw new BackboneMismatchException(path, $"'{path}' does not match backbone spec '{spec.Name}': it has no tensor named '{spec.FeatureMapName}' "
                + $"(the spec's feature map). Tensors that feed global pooling in this file: [{string.Join(", ", graph.PoolingInputs())}].");
        }
    }

    // Checks the spec's claims against the file and returns the pooled output's shape for a batch of one.
    private static long[] Validate(InferenceSession session, string path, BackboneSpec spec)
    {
        string Problem(string what) => $"'{path}' does not match backbone spec '{spec.Name}': {what}";

        if (!session.InputMetadata.TryGetValue(spec.InputName, out var input))
        {
            throw new BackboneMismatchException(path, Problem($"it has no input named '{spec.InputName}'; its inputs are [{string.Join(", ", session.InputMetadata.Keys)}]."));
        }

        var p = spec.Preprocessing;
        var expected = p.TensorShape().Select(d => (int)d).ToArray();
        var actual = input.Dimensions;
        if (actual.Length != 4 || Enumerable.Range(0, 4).Any(i => actual[i] > 0 && actual[i] != expected[i]))
        {
            throw new BackboneMismatchException(path, Problem(
                $"input '{spec.InputName}' has shape [{string.Join(", ", actual)}]{DescribeImageInput(actual)}, but the spec says {p.Layout} [{string.Join(", ", expected)}] "
                + $"({p.Layout} {p.Width}×{p.Height}; a dimension ≤ 0 is dynamic)."));
        }

        if (!session.OutputMetadata.TryGetValue(spec.PooledOutputName, out var output))
        {
            throw new BackboneMismatchException(path, Problem($"it has no output named '{spec.PooledOutputName}'; its outputs are [{string.Join(", ", session.OutputMetadata.Keys)}]."));
        }

        var shape = output.Dimensions.Select((d, i) => i == 0 || d <= 0 ? 1L : d).ToArray();
        var length = shape.Aggregate(1L, (a, b) => a * b);
        if (length != spec.FeatureDimension)
        {
            throw new BackboneMismatchException(path, Problem(
                $"output '{spec.PooledOutputName}' has shape [{string.Join(", ", output.Dimensions)}] ({length} values per image), but the spec says {spec.FeatureDimension}."));
        }

        if (spec.ImageNetHead is { } head)
        {
            if (!session.OutputMetadata.TryGetValue(head.OutputName, out var classes))
            {
                throw new BackboneMismatchException(path, Problem($"it has no output named '{head.OutputName}' (the spec's ImageNet head); its outputs are [{string.Join(", ", session.OutputMetadata.Keys)}]."));
            }

            var count = classes.Dimensions.Skip(1).Aggregate(1L, (a, d) => a * Math.Max(d, 1));
            if (count != head.ClassCount)
            {
                throw new BackboneMismatchException(path, Problem(
                    $"ImageNet head '{head.OutputName}' has shape [{string.Join(", ", classes.Dimensions)}] ({count} values per image), but the spec says {head.ClassCount}."));
            }
        }

        return shape;
    }

    // " (looks like NCHW 224×224)" for a 4-D image input, else "".
    private static string DescribeImageInput(int[] d) => d.Length != 4 ? $" ({d.Length}-D, not an image batch)"
        : d[1] == 3 ? $" (looks like NCHW {Size(d[3])}×{Size(d[2])})"
        : d[3] == 3 ? $" (looks like NHWC {Size(d[2])}×{Size(d[1])})"
        : " (no dimension of 3 colour channels)";

    private static string Size(int d) => d > 0 ? d.ToString(CultureInfo.InvariantCulture) : "any";
}
