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
    private const int GraphInput = 11;
    private const int GraphOutput = 12;
    private const int GraphValueInfo = 13;

    public static int Run(string models, IReadOnlyList<CatsDogs.ML.Data.ImageEntry> photos, int repeat)
    {
        Console.WriteLine("| backbone | batch | 2 concurrent runs × 1 thread | 1 run × 2 threads |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var spec in new[] { KnownBackbones.ResNet18, KnownBackbones.MobileNetV2, KnownBackbones.MobileNetV2Tf2, KnownBackbones.MobileNetV1 })
        {
            using var backbone = Backbone.Open(spec, models);
            var tensors = Program.Tensors(backbone, photos.Take(16).ToArray());
            var fixedBatch = File.ReadAllBytes(backbone.ModelPath);
            var dynamicBatch = WithDynamicBatch(fixedBatch);
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

        long[] shape = spec.Layout == TensorLayout.Nchw ? [batch, 3, spec.InputHeight, spec.InputWidth] : [batch, spec.InputHeight, spec.InputWidth, 3];
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

    /// <summary>
    /// The model with a symbolic first (batch) dimension on every graph input and output, and without the
    /// intermediate shape hints (value_info) that would pin the batch at its old size. Whether the nodes themselves
    /// allow another batch (a Reshape to a constant shape would not) is for the caller to check.
    /// </summary>
    private static byte[] WithDynamicBatch(ReadOnlyMemory<byte> model) => OnnxGraph.WithGraph(model, payload =>
    {
        var graph = new ProtoWriter();
        foreach (var graphField in ProtoReader.Fields(payload).Where(f => f.Number != GraphValueInfo))
        {
            if (graphField.Number is GraphInput or GraphOutput)
            {
                // ValueInfoProto.type (2) → TypeProto.tensor_type (1) → shape (2).
                graph.Message(graphField.Number, Rewrite(graphField.Payload, [2, 1, 2], SymbolicFirstDimension));
            }
            else
            {
                graph.Field(graphField);
            }
        }

        return graph;
    });

    // Copies a message, replacing the submessage at a path of field numbers with what change makes of it.
    private static ProtoWriter Rewrite(ReadOnlyMemory<byte> message, int[] path, Func<ReadOnlyMemory<byte>, ProtoWriter> change)
    {
        var writer = new ProtoWriter();
        foreach (var field in ProtoReader.Fields(message))
        {
            if (field.Number != path[0] || field.Type != WireType.LengthDelimited)
            {
                writer.Field(field);
            }
            else
            {
                writer.Message(field.Number, path.Length == 1 ? change(field.Payload) : Rewrite(field.Payload, path[1..], change));
            }
        }

        return writer;
    }

    // TensorShapeProto { dim = 1 }: the first dim becomes dim_param "N".
    private static ProtoWriter SymbolicFirstDimension(ReadOnlyMemory<byte> shape)
    {
        var writer = new ProtoWriter();
        var first = true;
        foreach (var dim in ProtoReader.Fields(shape))
        {
            if (dim.Number == 1 && first)
            {
                writer.Message(1, new ProtoWriter().String(2, "N"));
                first = false;
            }
            else
            {
                writer.Field(dim);
            }
        }

        return writer;
    }
}
