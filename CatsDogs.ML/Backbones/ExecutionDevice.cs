using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace CatsDogs.ML.Backbones;

/// <summary>
/// Where sessions run: parses <c>cpu</c> / <c>cuda</c> / <c>cuda:N</c>, opens sessions on that device, and falls back
/// to CPU with one notice that says why when CUDA cannot be used.
/// </summary>
internal static class ExecutionDevice
{
    /// <summary>The CUDA device index of <c>cuda</c> / <c>cuda:N</c>, or null for <c>cpu</c>.</summary>
    /// <exception cref="ArgumentException">Neither.</exception>
    public static int? Parse(string device)
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

    /// <summary>
    /// Opens an ONNX Runtime session for <paramref name="model"/> on the CPU or a CUDA device; an unusable GPU falls back
    /// to CPU with a one-line notice naming the cause (tried once per device and process).
    /// </summary>
    /// <exception cref="BackboneMismatchException">ONNX Runtime cannot load the model.</exception>
    /// <exception cref="OnnxRuntimeUnavailableException">ONNX Runtime's native library is missing.</exception>
    public static (InferenceSession Session, string Provider, string? Notice) OpenSession(byte[] model, string path, BackboneSpec spec, int? cudaDevice)
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

}
