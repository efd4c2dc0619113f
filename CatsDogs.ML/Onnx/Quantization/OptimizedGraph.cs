using Microsoft.ML.OnnxRuntime;

namespace CatsDogs.ML.Onnx.Quantization;

/// <summary>
/// What ONNX Runtime makes of a graph: the operator counts of the graph it runs after its optimizations (written with
/// <see cref="SessionOptions.OptimizedModelFilePath"/>). Shows whether QuantizeLinear → Conv → DequantizeLinear groups
/// were fused into QLinearConv: a QDQ graph that is not fused runs slower than float32.
/// </summary>
internal static class OptimizedGraph
{
    /// <summary>Operator counts ("QLinearConv", "com.microsoft.QLinearAdd", …) after optimization at <paramref name="level"/>, on one CPU thread.</summary>
    public static IReadOnlyDictionary<string, int> OperatorCounts(byte[] model, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL)
    {
        var path = Path.Combine(Path.GetTempPath(), $"catsdogs-optimized-{Guid.NewGuid():N}.onnx");
        try
        {
            // Errors only: ONNX Runtime warns that a graph optimized at ORT_ENABLE_ALL may hold hardware-specific operators, which is what is asked for here.
            using (var options = new SessionOptions { GraphOptimizationLevel = level, OptimizedModelFilePath = path, IntraOpNumThreads = 1, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR })
            using (new InferenceSession(model, options))
            {
            }

            return OnnxGraph.Read(File.ReadAllBytes(path)).Nodes
                .GroupBy(n => n.Domain is "" or "ai.onnx" ? n.OpType : n.Domain + "." + n.OpType, StringComparer.Ordinal)
                .OrderBy(g => g.Key, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
