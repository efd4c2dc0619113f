using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace CatsDogs.ML.Backbones;

/// <summary>Which output of a backbone a feature extractor reads.</summary>
internal enum BackboneOutput
{
    /// <summary>The globally pooled features.</summary>
    Pooled,

    /// <summary>The ImageNet classifier (<see cref="BackboneSpec.ImageNetHead"/>).</summary>
    ImageNetHead,
}

/// <summary>
/// An opened backbone: the single owner of its ONNX Runtime session. Validated against its spec when opened;
/// <see cref="Run(float[], float[])"/> may be called from many threads at once (ONNX Runtime sessions allow concurrent runs).
/// </summary>
internal sealed class Backbone : IDisposable
{
    private readonly InferenceSession _session;
    private readonly long[] _inputShape;
    private readonly long[] _outputShape;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;

    private Backbone(BackboneSpec spec, string modelPath, string modelSha256, string? meanImageSha256, InferenceSession session, TensorWriter writer, long[] outputShape)
    {
        Spec = spec;
        ModelPath = modelPath;
        ModelSha256 = modelSha256;
        _session = session;
        Writer = writer;
        _inputShape = spec.Layout == TensorLayout.Nchw ? [1, 3, spec.InputHeight, spec.InputWidth] : [1, spec.InputHeight, spec.InputWidth, 3];
        _outputShape = outputShape;
        _inputNames = [spec.InputName];
        _outputNames = [spec.PooledOutputName];
        Fingerprint = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join(
            '\n',
            "model=" + modelSha256,
            "mean=" + (meanImageSha256 ?? ""),
            "input=" + spec.InputName,
            "pooled=" + spec.PooledOutputName,
            "dim=" + spec.FeatureDimension.ToString(CultureInfo.InvariantCulture),
            spec.PreprocessingSignature))));
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

    /// <summary>Identifies everything that determines this backbone's features for a given photo (cache keys).</summary>
    public string Fingerprint { get; }

    /// <summary>Writes RGBA pixels as this backbone's input tensor.</summary>
    public TensorWriter Writer { get; }

    /// <summary>
    /// Locates, verifies and opens the backbone's file(s).
    /// </summary>
    /// <exception cref="BackboneFileNotFoundException">A file is missing.</exception>
    /// <exception cref="BackboneMismatchException">A file is not ONNX, or its hash, names or shapes differ from the spec.</exception>
    /// <param name="spec">What the file should be.</param>
    /// <param name="modelsDirectory">An extra folder searched first.</param>
    /// <param name="expectedSha256">The hash a saved model was trained with, if any.</param>
    /// <param name="withFeatureMap">
    /// Also expose <see cref="BackboneSpec.FeatureMapName"/>, when the spec names one, as an output of the same session
    /// (for class activation maps). Not by default: measured with the four real backbones, exposing the maps raised the
    /// peak memory of scoring from 465 MiB to 1,037 MiB.
    /// </param>
    /// <param name="device">Where to run: <c>cpu</c>, or <c>cuda</c> / <c>cuda:N</c> (falls back to CPU, with <see cref="ProviderNotice"/>, where CUDA is unavailable).</param>
    public static Backbone Open(BackboneSpec spec, string? modelsDirectory, string? expectedSha256 = null, bool withFeatureMap = false, string device = "cpu")
    {
        ArgumentNullException.ThrowIfNull(spec);
        BackboneSpecChecks.ThrowIfInvalid(spec);
        var path = ModelFiles.Locate(spec, spec.FileName, modelsDirectory);
        var model = File.ReadAllBytes(path);
        var sha = ModelFiles.Sha256(path, model);
        foreach (var (expected, why) in new[] { (spec.Sha256, "the catalogue expects"), (expectedSha256, "the saved model was trained with") })
        {
            if (expected is not null && !string.Equals(expected, sha, StringComparison.OrdinalIgnoreCase))
            {
                throw new BackboneMismatchException(path, $"'{path}' for backbone '{spec.Name}' has SHA-256 {sha}, but {why} {expected}. "
                    + $"Use the original file. {spec.HowToObtain}");
            }
        }

        var graph = ReadGraph(model, path, spec);
        if (!graph.Inputs.Any(i => i.Name == spec.InputName))
        {
            // Checked before the feature map: a file for another network should be named as such.
            throw new BackboneMismatchException(path, $"'{path}' does not match backbone spec '{spec.Name}': it has no input named '{spec.InputName}'; "
                + $"its inputs are [{string.Join(", ", graph.Inputs)}].");
        }

        CheckFeatureMap(graph, path, spec);
        var exposeMap = withFeatureMap && spec.FeatureMapName is not null;
        var cudaDevice = ParseDevice(device);
        var (session, provider, notice) = OpenSession(exposeMap ? OnnxGraph.WithOutputs(model, [spec.FeatureMapName!]) : model, path, spec, cudaDevice);
        try
        {
            // The network file is checked first: a spec that disagrees with it is the likelier mistake.
            var outputShape = Validate(session, path, spec);
            float[]? meanImage = null;
            string? meanSha = null;
            if (spec.Normalization.Kind == NormalizationKind.CaffeMeanImage)
            {
                var meanPath = ModelFiles.Locate(spec, spec.Normalization.MeanImageFile
                    ?? throw new ArgumentException($"Backbone '{spec.Name}' uses a mean image but names no MeanImageFile."), modelsDirectory);
                meanSha = ModelFiles.Sha256(meanPath);
                meanImage = MeanImage.Load(meanPath, spec);
            }

            return new Backbone(spec, path, sha, meanSha, session, new TensorWriter(spec, meanImage), outputShape)
            {
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

    /// <summary>Opens every backbone of <paramref name="specs"/>, in order; nothing stays open when one fails.</summary>
    public static Backbone[] OpenAll(IReadOnlyList<BackboneSpec> specs, string? modelsDirectory, IReadOnlyList<string?>? expectedSha256 = null, string device = "cpu", bool withFeatureMap = false)
    {
        var duplicate = specs.GroupBy(s => s.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Backbone '{duplicate.Key}' is listed more than once.", nameof(specs));
        }

        var opened = new List<Backbone>();
        try
        {
            for (var i = 0; i < specs.Count; i++)
            {
                opened.Add(Open(specs[i], modelsDirectory, expectedSha256?[i], withFeatureMap, device));
            }

            return opened.ToArray();
        }
        catch
        {
            opened.ForEach(b => b.Dispose());
            throw;
        }
    }

    /// <summary>Runs one image tensor (<see cref="TensorWriter.Length"/> floats) and writes the pooled features.</summary>
    public void Run(float[] input, float[] features) => Run(input, features, BackboneOutput.Pooled);

    /// <summary>Runs one image tensor and writes the chosen output (<see cref="OutputLength"/> floats).</summary>
    public void Run(float[] input, float[] output, BackboneOutput which)
    {
        using var inputValue = OrtValue.CreateTensorValueFromMemory(input, _inputShape);
        if (which == BackboneOutput.Pooled)
        {
            using var outputValue = OrtValue.CreateTensorValueFromMemory(output, _outputShape);
            _session.Run(null, _inputNames, [inputValue], _outputNames, [outputValue]);
            return;
        }

        var head = Spec.ImageNetHead ?? throw new InvalidOperationException($"Backbone '{Spec.Name}' has no ImageNet head.");
        using var headValue = OrtValue.CreateTensorValueFromMemory(output, [1, head.ClassCount]);
        _session.Run(null, _inputNames, [inputValue], [head.OutputName], [headValue]);
    }

    /// <summary>Values per image of an output.</summary>
    public int OutputLength(BackboneOutput which) => which == BackboneOutput.Pooled
        ? Spec.FeatureDimension
        : Spec.ImageNetHead?.ClassCount ?? throw new InvalidOperationException($"Backbone '{Spec.Name}' has no ImageNet head; choose one whose spec has ImageNetHead (mobilenet_v2, mobilenet_v2_tf2).");

    /// <summary>
    /// Runs one image tensor and returns the named outputs with their shapes (e.g. the pooled features, the feature
    /// map when opened with it, an ImageNet head).
    /// </summary>
    public IReadOnlyList<(float[] Values, long[] Shape)> Run(float[] input, IReadOnlyList<string> outputNames)
    {
        using var inputValue = OrtValue.CreateTensorValueFromMemory(input, _inputShape);
        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, _inputNames, [inputValue], outputNames.ToArray());
        return outputs.Select(o => (o.GetTensorDataAsSpan<float>().ToArray(), o.GetTensorTypeAndShape().Shape)).ToArray();
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
        if (spec.FeatureMapName is null)
        {
            return;
        }

        if (!graph.HasTensor(spec.FeatureMapName))
        {
            throw new BackboneMismatchException(path, $"'{path}' does not match backbone spec '{spec.Name}': it has no tensor named '{spec.FeatureMapName}' "
                + $"(the spec's feature map). Tensors that feed global pooling in this file: [{string.Join(", ", graph.PoolingInputs())}].");
        }
    }

    /// <summary>The CUDA device index of <c>cuda</c> / <c>cuda:N</c>, or null for <c>cpu</c>.</summary>
    /// <exception cref="ArgumentException">Neither.</exception>
    public static int? ParseDevice(string device)
    {
        var text = (device ?? "cpu").Trim().ToLowerInvariant();
        if (text == "cpu")
        {
            return null;
        }

        if (text == "cuda")
        {
            return 0;
        }

        return text.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(text.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            ? index
            : throw new ArgumentException($"Unknown device '{device}': use cpu, cuda or cuda:N.", nameof(device));
    }

    private static (InferenceSession Session, string Provider, string? Notice) OpenSession(byte[] model, string path, BackboneSpec spec, int? cudaDevice)
    {
        try
        {
            if (cudaDevice is { } id)
            {
                if (CudaProblems.TryGetValue(id, out var known))
                {
                    return (CreateSession(model, path, spec, null), "CPU", known);
                }

                try
                {
                    return (CreateCudaSession(model, path, spec, id), $"CUDA:{id}", null);
                }
                catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException or BackboneMismatchException)
                {
                    var notice = $"CUDA device {id} is not usable ({DescribeCudaFailure(e)}); running on CPU. "
                        + "For CUDA, build the app with Microsoft.ML.OnnxRuntime.Gpu 1.31 (the CLI: -p:OnnxRuntime=gpu) and install "
                        + "CUDA 13 (libcudart.so.13, libcublas.so.13) and cuDNN 9.";
                    CudaProblems.TryAdd(id, notice);
                    return (CreateSession(model, path, spec, null), "CPU", notice);
                }
            }

            return (CreateSession(model, path, spec, null), "CPU", null);
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException or BadImageFormatException)
        {
            throw new OnnxRuntimeUnavailableException(
                $"ONNX Runtime's native library could not be loaded on {System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier} ({e.GetBaseException().Message}). "
                + "Reference the package Microsoft.ML.OnnxRuntime (CPU, every platform; CatsDogs.ML brings it) or Microsoft.ML.OnnxRuntime.Gpu (CUDA, linux-x64 and win-x64), "
                + "and make sure its runtimes/<rid>/native folder reaches the app's output (publish for a specific runtime with -r <rid>).",
                e);
        }
    }

    // Why each CUDA device that failed once cannot be used: the cause (no CUDA build, no driver or libraries) holds
    // for the whole process, so later backbones fall back at once instead of failing (and logging) again.
    private static readonly ConcurrentDictionary<int, string> CudaProblems = new();
    private static readonly Lock CudaProbe = new();

    // Says in plain words why CUDA could not be used: ONNX Runtime itself only says "Failed to load shared library".
    private static string DescribeCudaFailure(Exception e)
    {
        if (e is EntryPointNotFoundException)
        {
            return "the app's ONNX Runtime is the CPU-only build";
        }

        var message = e.GetBaseException().Message.Split('\n')[0].Trim();
        return message.Contains("Failed to load shared library", StringComparison.Ordinal) && CudaProviderLoadError() is { } why
            ? $"ONNX Runtime's CUDA provider cannot be loaded: {why}"
            : message;
    }

    // The dynamic loader's own reason the CUDA provider library does not load (typically a CUDA library it needs).
    private static string? CudaProviderLoadError()
    {
        var name = OperatingSystem.IsWindows() ? "onnxruntime_providers_cuda.dll" : "libonnxruntime_providers_cuda.so";
        var native = Path.Combine(AppContext.BaseDirectory, "runtimes", RuntimeInformation.RuntimeIdentifier, "native", name);
        var path = new[] { native, Path.Combine(AppContext.BaseDirectory, name) }.FirstOrDefault(File.Exists);
        if (path is null)
        {
            return $"{name} is not in the app's folder";
        }

        try
        {
            NativeLibrary.Free(NativeLibrary.Load(path));
            return null;
        }
        catch (DllNotFoundException load)
        {
            var last = load.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
            return last.StartsWith(path, StringComparison.Ordinal) ? last[path.Length..].TrimStart(':', ' ') : last;
        }
    }

    // ONNX Runtime logs its own multi-line error when the CUDA provider library cannot be loaded; the caller reports
    // one notice instead, so the environment's log level is raised for the attempt.
    private static InferenceSession CreateCudaSession(byte[] model, string path, BackboneSpec spec, int id)
    {
        lock (CudaProbe)
        {
            var env = OrtEnv.Instance();
            var level = env.EnvLogLevel;
            env.EnvLogLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
            try
            {
                return CreateSession(model, path, spec, id);
            }
            finally
            {
                env.EnvLogLevel = level;
            }
        }
    }

    private static InferenceSession CreateSession(byte[] model, string path, BackboneSpec spec, int? cudaDevice)
    {
        // One intra-op thread per session: callers run one image per core concurrently, which keeps every core busy
        // with less synchronisation than ORT's own thread pool spinning over a batch of one.
        using var options = new SessionOptions
        {
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        if (cudaDevice is { } id)
        {
            options.AppendExecutionProvider_CUDA(id); // throws where this ONNX Runtime build or machine has no CUDA
        }

        try
        {
            return new InferenceSession(model, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new BackboneMismatchException(path, $"'{path}' for backbone '{spec.Name}' cannot be opened as an ONNX model: {e.Message} "
                + $"The file may be truncated or not ONNX. {spec.HowToObtain}", e);
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

        int[] expected = spec.Layout == TensorLayout.Nchw ? [1, 3, spec.InputHeight, spec.InputWidth] : [1, spec.InputHeight, spec.InputWidth, 3];
        var actual = input.Dimensions;
        if (actual.Length != 4 || Enumerable.Range(0, 4).Any(i => actual[i] > 0 && actual[i] != expected[i]))
        {
            throw new BackboneMismatchException(path, Problem(
                $"input '{spec.InputName}' has shape [{string.Join(", ", actual)}]{DescribeImageInput(actual)}, but the spec says {spec.Layout} [{string.Join(", ", expected)}] "
                + $"({spec.Layout} {spec.InputWidth}×{spec.InputHeight}; a dimension ≤ 0 is dynamic)."));
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
