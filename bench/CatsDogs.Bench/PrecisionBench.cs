using System.Globalization;
using System.Security.Cryptography;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Onnx.Quantization;
using Microsoft.ML.OnnxRuntime;

namespace CatsDogs.Bench;

/// <summary>
/// int8 against float32 on the real backbones, in one run (docs/quantization.md): each backbone is calibrated on
/// photos drawn half cats, half dogs from the training folder and quantized (QDQ); then, on other photos, the pooled
/// features of the int8 graph are compared with the float32 ones (cosine) for percentile and min–max calibration, with
/// the first convolution, or the node that makes the feature map, in int8 or float32; the operators ONNX Runtime runs after its optimizations (whether the QDQ
/// groups became QLinearConv); the file sizes; and the raw ONNX Runtime throughput of both graphs on the same
/// pre-rendered tensors with 1 and 2 intra-op threads, median of --repeat runs.
/// Usage: dotnet run --project bench/CatsDogs.Bench -c Release -- --precision [--photos 100] [--repeat 5]
/// </summary>
internal static class PrecisionBench
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static int Run(string data, string models, int count, int repeat)
    {
        var all = ImageDataset.FromFolder(data).Shuffle(seed: 23);
        var calibration = all.Where(p => p.Label == PetLabel.Cat).Take(count / 2).Concat(all.Where(p => p.Label == PetLabel.Dog).Take(count - (count / 2))).ToArray();
        var used = calibration.Select(p => p.Path).ToHashSet(StringComparer.Ordinal);
        var check = all.Where(p => !used.Contains(p.Path)).Take(count).ToArray();
        Console.WriteLine($"int8 vs float32 — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, ONNX Runtime CPU; "
            + $"{calibration.Length} calibration photos (half cats, half dogs), {check.Length} other photos to check; median of {repeat} runs.");
        var specs = new[] { KnownBackbones.ResNet18, KnownBackbones.MobileNetV2, KnownBackbones.MobileNetV2Tf2, KnownBackbones.MobileNetV1 };
        var speed = new List<string>();
        var graphs = new List<string>();
        Console.WriteLine();
        Console.WriteLine("| backbone | calibration | first conv | node making the feature map | cosine int8 vs fp32, min | median | calibration JSON |");
        Console.WriteLine("|---|---|---|---|---:|---:|---:|");
        foreach (var spec in specs)
        {
            using var backbone = Backbone.Open(spec, models);
            var fp32 = File.ReadAllBytes(backbone.ModelPath);
            var samples = Program.Tensors(backbone, calibration).Zip(calibration, (t, p) => new CalibrationSample(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(p.Path))), t)).ToArray();
            var tensors = Program.Tensors(backbone, check);
            var reference = Features(fp32, spec, tensors);
            byte[]? chosen = null;
            var defaults = new QuantizationOptions { InputName = spec.InputName, FeatureMap = spec.FeatureMapName! };
            foreach (var options in new[]
            {
                defaults,
                defaults with { Method = CalibrationMethod.MinMax },
                defaults with { QuantizeFirstConvolution = true },
                defaults with { FloatOutputs = [spec.FeatureMapName!] },
            })
            {
                var record = StaticQuantizer.Calibrate(fp32, options, samples);
                var int8 = StaticQuantizer.Quantize(fp32, record);
                var cosines = Features(int8, spec, tensors).Zip(reference, (a, b) => Metrics.Cosine(a, b)).Order().ToArray();
                Console.WriteLine(string.Create(Invariant, $"| {spec.Name} | {options.Method}{(options == defaults ? " (default)" : "")} | {(options.QuantizeFirstConvolution ? "int8" : "fp32")} | {(options.FloatOutputs.Count == 0 ? "int8" : "fp32")} | {cosines[0]:F4} | {cosines[cosines.Length / 2]:F4} | {record.ToJson().Length / 1024.0:F1} KiB |"));
                chosen ??= int8;
            }

            var counts = OptimizedGraph.OperatorCounts(chosen!);
            graphs.Add(string.Create(Invariant, $"| {spec.Name} | {fp32.Length / 1048576.0:F1} MiB | {chosen!.Length / 1048576.0:F1} MiB ({100.0 * chosen.Length / fp32.Length:F0} %) | {string.Join(", ", counts.Select(c => $"{c.Key} {c.Value}"))} |"));
            foreach (var threads in new[] { 1, 2 })
            {
                var rateFp32 = Throughput(fp32, spec, tensors, threads, repeat);
                var rateInt8 = Throughput(chosen, spec, tensors, threads, repeat);
                speed.Add(string.Create(Invariant, $"| {spec.Name} | {threads} | {rateFp32:F1}/s | {rateInt8:F1}/s | {rateInt8 / rateFp32:F2} × |"));
            }
        }

        Console.WriteLine();
        Console.WriteLine("Quantized graphs (the default options), and the operators ONNX Runtime runs after ORT_ENABLE_ALL:");
        Console.WriteLine();
        Console.WriteLine("| backbone | fp32 file | int8 QDQ file | optimized graph |");
        Console.WriteLine("|---|---:|---:|---|");
        graphs.ForEach(Console.WriteLine);
        Console.WriteLine();
        Console.WriteLine("Raw ONNX Runtime throughput, one run at a time on pre-rendered tensors (images/s):");
        Console.WriteLine();
        Console.WriteLine("| backbone | intra-op threads | fp32 | int8 | int8 / fp32 |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        speed.ForEach(Console.WriteLine);
        return 0;
    }

    private static float[][] Features(byte[] model, BackboneSpec spec, float[][] tensors)
    {
        using var session = Session(model, 1);
        return tensors.Select(t => RunOne(session, spec, t)).ToArray();
    }

    private static double Throughput(byte[] model, BackboneSpec spec, float[][] tensors, int threads, int repeat)
    {
        using var session = Session(model, threads);
        RunOne(session, spec, tensors[0]); // warm-up
        return tensors.Length / Program.Median(repeat, () => Program.Time(() =>
        {
            foreach (var tensor in tensors)
            {
                RunOne(session, spec, tensor);
            }
        }));
    }

    private static InferenceSession Session(byte[] model, int threads)
    {
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        return new InferenceSession(model, options);
    }

    private static float[] RunOne(InferenceSession session, BackboneSpec spec, float[] tensor)
    {
        var output = new float[spec.FeatureDimension];
        using var input = OrtValue.CreateTensorValueFromMemory(tensor, spec.Preprocessing.TensorShape());
        using var features = OrtValue.CreateTensorValueFromMemory(output, session.OutputMetadata[spec.PooledOutputName].Dimensions.Select(d => Math.Max(1L, d)).ToArray());
        session.Run(null, [spec.InputName], [input], [spec.PooledOutputName], [features]);
        return output;
    }
}
