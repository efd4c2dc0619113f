using CatsDogs.ML.Imaging;
using Microsoft.ML.OnnxRuntime;

namespace CatsDogs.ML.Backbones;

/// <summary>
/// Reads the mean image out of a "subtract the mean" preprocessing graph such as NuGet's
/// <c>ResNetPreprocess.onnx</c> (RGB planes in, channel-reordered planes minus a mean image out): the graph's
/// answer to an all-zero image is minus the mean image, in the spec's channel order. The tests pin the resulting
/// preprocessing against the graph itself on real photos.
/// </summary>
internal static class MeanImage
{
    /// <exception cref="BackboneMismatchException">The file is not such a graph.</exception>
    public static float[] Load(byte[] graph, string path, BackboneSpec spec)
    {
        var input = spec.Preprocessing;
        try
        {
            using var session = new InferenceSession(graph);
            var shape = new long[] { 1, 3, input.Height, input.Width };
            var zeros = new float[input.TensorLength];
            var result = new float[zeros.Length];
            using (var x = OrtValue.CreateTensorValueFromMemory(zeros, shape))
            using (var y = OrtValue.CreateTensorValueFromMemory(result, shape))
            {
                session.Run(null, [session.InputMetadata.Single().Key], [x], [session.OutputMetadata.Single().Key], [y]);
            }

            for (var i = 0; i < result.Length; i++)
            {
                result[i] = -result[i];
                if (!float.IsFinite(result[i]))
                {
                    throw new InvalidOperationException("its mean image holds a value that is not a finite number");
                }
            }

            return result;
        }
        catch (Exception e) when (e is OnnxRuntimeException or InvalidOperationException)
        {
            throw new BackboneMismatchException(path, $"'{path}' is not a mean-image preprocessing graph for '{spec.Name}' "
                + $"(one input and one output of shape [1, 3, {input.Height}, {input.Width}]): {e.Message}", e);
        }
    }
}
