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
    public static float[] Load(string path, BackboneSpec spec)
    {
        try
        {
            using var session = new InferenceSession(path);
            var input = session.InputMetadata.Single();
            var output = session.OutputMetadata.Single();
            var shape = new long[] { 1, 3, spec.InputHeight, spec.InputWidth };
            var zeros = new float[3 * spec.InputHeight * spec.InputWidth];
            var result = new float[zeros.Length];
            using (var x = OrtValue.CreateTensorValueFromMemory(zeros, shape))
            using (var y = OrtValue.CreateTensorValueFromMemory(result, shape))
            {
                session.Run(null, [input.Key], [x], [output.Key], [y]);
            }

            for (var i = 0; i < result.Length; i++)
            {
                result[i] = -result[i];
            }

            return result;
        }
        catch (Exception e) when (e is OnnxRuntimeException or InvalidOperationException)
        {
            throw new BackboneMismatchException(path, $"'{path}' is not a mean-image preprocessing graph for '{spec.Name}' "
                + $"(one input and one output of shape [1, 3, {spec.InputHeight}, {spec.InputWidth}]): {e.Message}", e);
        }
    }
}
