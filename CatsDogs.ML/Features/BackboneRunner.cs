using CatsDogs.ML.Backbones;
using CatsDogs.ML.Imaging;

namespace CatsDogs.ML.Features;

/// <summary>A feature map of one backbone and view, as the session returned it.</summary>
internal sealed record FeatureMap(float[] Values, long[] Shape);

/// <summary>
/// An input tensor → a backbone's output: one run of the session of the slot's backbone at its view's input size.
/// It borrows the sessions of a <see cref="BackboneSet"/>, which owns them; it owns nothing native.
/// </summary>
internal sealed class BackboneRunner(BackboneSet backbones, IReadOnlyList<ImageView> views, BackboneOutput output)
{
    /// <summary>Which output of each backbone is read.</summary>
    public BackboneOutput Output { get; } = output;

    /// <summary>Values per run of backbone <paramref name="backbone"/> (its pooled features, or its ImageNet classes).</summary>
    public int OutputLength(int backbone) => backbones[backbone].OutputLength(Output);

    /// <summary>Runs one slot's tensor into <paramref name="result"/>; safe to call concurrently (ONNX Runtime allows concurrent runs).</summary>
    public void Run(ViewSlot slot, float[] tensor, float[] result) => Session(slot).Run(tensor, result, Output);

    /// <summary>Runs one slot's tensor into <paramref name="pooled"/> and returns its feature map (sessions opened with feature maps).</summary>
    public FeatureMap RunWithMap(ViewSlot slot, float[] tensor, float[] pooled)
    {
        var (map, shape) = Session(slot).RunWithMap(tensor, pooled);
        return new FeatureMap(map, shape);
    }

    private Backbone Session(ViewSlot slot) => backbones.At(slot.Backbone, views[slot.View].InputSize);
}
