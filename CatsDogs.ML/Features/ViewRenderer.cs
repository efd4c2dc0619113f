using CatsDogs.ML.Backbones;
using CatsDogs.ML.Imaging;

namespace CatsDogs.ML.Features;

/// <summary>One (backbone, view) of a pipeline: the unit that is rendered, run and cached.</summary>
/// <param name="Backbone">Index of the backbone, in feature order.</param>
/// <param name="View">Index of the view, in view order.</param>
internal readonly record struct ViewSlot(int Backbone, int View);

/// <summary>
/// A decoded photo → the input tensor of each (backbone, view). Every view is rendered once per input size (a
/// mirrored view is its view flipped, <see cref="PhotoViews.Render"/>), then written in the layout, channel order and
/// normalisation of the backbone's session at that size.
/// </summary>
internal sealed class ViewRenderer(BackboneSet backbones, IReadOnlyList<ImageView> views)
{
    /// <summary>The RGBA pixels of each slot, in slot order: scratch buffers of <paramref name="photo"/>, valid until its next photo.</summary>
    /// <remarks>Renders share buffers (a mirror reads its view), so this runs on one thread, before any tensor is written.</remarks>
    public byte[][] Render(PhotoViews photo, IReadOnlyList<ViewSlot> slots)
    {
        var pixels = new byte[slots.Count][];
        for (var k = 0; k < slots.Count; k++)
        {
            pixels[k] = photo.Render(backbones[slots[k].Backbone].Spec.Preprocessing, views[slots[k].View]);
        }

        return pixels;
    }

    /// <summary>Writes a slot's rendered pixels as its backbone's input tensor (<see cref="TensorLength"/> floats); safe to call concurrently for different tensors.</summary>
    public void WriteTensor(ViewSlot slot, ReadOnlySpan<byte> pixels, Span<float> tensor) =>
        backbones.At(slot.Backbone, views[slot.View].InputSize).Writer.Write(pixels, tensor);

    /// <summary>The length of a slot's input tensor.</summary>
    public int TensorLength(ViewSlot slot) => backbones.At(slot.Backbone, views[slot.View].InputSize).Writer.Length;
}
