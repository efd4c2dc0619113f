using CatsDogs.ML.Backbones;
using CatsDogs.ML.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace CatsDogs.Bench;

/// <summary>
/// Does batching pay? The shipped ONNX files fix the batch at 1; this makes each graph's batch dimension dynamic in
/// memory (a symbolic first dimension on the graph's inputs and outputs), checks that a batch of 4 gives the same
/// features as 4 single runs, and measures the raw throughput on pre-decoded tensors of real photos for batch sizes
/// 1–16, with two concurrent single-threaded runs and with one two-threaded run. (The library does not batch: see the
/// README's Speed section for why.)
/// Usage: dotnet run --project bench/CatsDogs.Bench -c Release -- --batching [--repeat 3]
/// </summary>
internal static class BatchingProbe
{
    public static int Run(string models, IReadOnlyList<CatsDogs.ML.Data.ImageEntry> photos, int repeat)
    {
        Console.WriteLine("| backbone | batch | 2 concurrent runs × 1 thread | 1 run × 2 threads |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var spec in new[] { KnownBackbones.ResNet18, KnownBackbones.MobileNetV2, KnownBackbones.MobileNetV2Tf2, KnownBackbones.MobileNetV1 })
        {
            using var backbone = Backbone.Open(spec, models);
            var tensors = Program.Tensors(backbone, photos.Take(16).ToArray());
            var fixedBatch = File.ReadAllBytes(backbone.ModelPath);
            var dynamicBatch = OnnxGraph.Read(fixedBatch).WithSymbolicBatch();
            CheckSameFeatures(spec, fixedBatch, dynamicBatch, tensors);
            foreach (var batch in new[] { 1, 2, 4, 8, 16 })
            {
                var model = batch == 1 ? fixedBatch : dynamicBatch;
                var rates = new[] { (Intra: 1, Workers: 2), (Intra: 2, Workers: 1) }
                    .Select(setting => Throughput(spec, model, tensors, batch, setting.Intra, setting.Workers, repeat))
                    .Select(Program.Rate);
                Console.WriteLine($"| {spec.Name} | {batch} | {string.Join(" | ", rates)} |");
            }
        }

        return 0;
    }

    private static double Throughput(BackboneSpec spec, byte[] model, float[][] tensors, int batch, int intra, int workers, int repeat)
    {
        using var session = Session(model, intra);
        const int Images = 240;
        RunBatch(spec, session, tensors, batch, 0); // warm-up
        return Images / Program.Median(repeat, () => Program.Time(() =>
            Parallel.For(0, Images / batch, new ParallelOptions { MaxDegreeOfParallelism = workers }, i => RunBatch(spec, session, tensors, batch, i * batch))));
    }

    private static void CheckSameFeatures(BackboneSpec spec, byte[] fixedBatch, byte[] dynamicBatch, float[][] tensors)
    {
        using var single = Session(fixedBatch, 1);
        using var batched = Session(dynamicBatch, 1);
        var four = RunBatch(spec, batched, tensors, 4, 0);
        for (var b = 0; b < 4; b++)
        {
            var one = RunBatch(spec, single, tensors, 1, b);
            for (var j = 0; j < spec.FeatureDimension; j++)
            {
                if (Math.Abs(one[j] - four[(b * spec.FeatureDimension) + j]) > 1e-4f * (1 + Math.Abs(one[j])))
                {
                    throw new InvalidOperationException($"{spec.Name}: a batch of 4 differs from single runs at image {b}, feature {j}.");
                }
            }
        }
    }

    private static float[] RunBatch(BackboneSpec spec, InferenceSession session, float[][] tensors, int batch, int first)
    {
        var per = tensors[0].Length;
        var input = new float[batch * per];
        for (var b = 0; b < batch; b++)
        {
            tensors[(first + b) % tensors.Length].CopyTo(input, b * per);
        }

        var shape = spec.Preprocessing.TensorShape(batch);
        var outputShape = session.OutputMetadata[spec.PooledOutputName].Dimensions.Select(d => Math.Max(1L, d)).ToArray();
        outputShape[0] = batch;
        var output = new float[batch * spec.FeatureDimension];
        using var x = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var y = OrtValue.CreateTensorValueFromMemory(output, outputShape);
        session.Run(null, [spec.InputName], [x], [spec.PooledOutputName], [y]);
        return output;
    }

    private static InferenceSession Session(byte[] model, int intra) =>
        new(model, new SessionOptions { IntraOpNumThreads = intra, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL });
}
