using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Training;

namespace CatsDogs.ML.Explain;

/// <summary>
/// Computes class activation maps from a trained head: for each backbone, the feature map of one forward pass (the
/// same session that gives the pooled features) weighted by that backbone's slice of the head's weights with the
/// feature scaling folded in. Because the pooled features are the grid mean of the map, the maps' grid means plus
/// the head's bias are exactly its score. Mirror-averaged models average the photo's map with its mirror's map
/// flipped back, as their features are averaged.
/// </summary>
internal sealed class ClassActivationMapper
{
    private readonly IReadOnlyList<Backbone> _backbones;
    private readonly LogisticHead _head;
    private readonly bool _mirror;
    private readonly float[] _weights;
    private readonly double _bias;
    private readonly int[] _offsets;

    public ClassActivationMapper(IReadOnlyList<Backbone> backbones, LogisticHead head, bool averageWithMirror)
    {
        foreach (var backbone in backbones.Where(b => !b.HasFeatureMap))
        {
            throw new InvalidOperationException($"Backbone '{backbone.Spec.Name}' exposes no feature map: its spec names no FeatureMapName, so it cannot be explained.");
        }

        _backbones = backbones;
        _head = head;
        _mirror = averageWithMirror;
        (_weights, _bias) = head.RawLinearForm();
        _offsets = new int[backbones.Count];
        for (var b = 1; b < backbones.Count; b++)
        {
            _offsets[b] = _offsets[b - 1] + backbones[b - 1].Spec.FeatureDimension;
        }
    }

    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    public Explanation Explain(ReadOnlySpan<byte> bytes, ImageEntry image)
    {
        // The networks see the photo decoded exactly as for Predict; the overlay uses the photo's own pixels.
        using var decoded = ImageDecoder.Decode(bytes, image.Path, _backbones.Max(b => Math.Max(b.Spec.InputWidth, b.Spec.InputHeight)));
        using var photo = ImageDecoder.Decode(bytes, image.Path, int.MaxValue);
        int width = photo.Width, height = photo.Height;

        var features = new float[_weights.Length];
        var heatmaps = new BackboneHeatmap[_backbones.Count];
        var dogMap = new float[width * height];
        for (var b = 0; b < _backbones.Count; b++)
        {
            var backbone = _backbones[b];
            var spec = backbone.Spec;
            var rgba = new byte[spec.InputWidth * spec.InputHeight * 4];
            decoded.RenderTo(spec.InputWidth, spec.InputHeight, spec.Resize, rgba);
            var (pooled, grid) = Map(backbone, rgba, _offsets[b], mirrored: false);
            if (_mirror)
            {
                var mirroredRgba = new byte[rgba.Length];
                RgbaPixels.Mirror(rgba, mirroredRgba, spec.InputWidth);
                var (mirrorPooled, mirrorGrid) = Map(backbone, mirroredRgba, _offsets[b], mirrored: true);
                for (var j = 0; j < pooled.Length; j++)
                {
                    pooled[j] = 0.5f * (pooled[j] + mirrorPooled[j]);
                }

                for (var i = 0; i < grid.Values.Length; i++)
                {
                    grid.Values[i] = 0.5f * (grid.Values[i] + mirrorGrid.Values[i]);
                }
            }

            pooled.CopyTo(features, _offsets[b]);
            heatmaps[b] = new BackboneHeatmap(spec.Name, grid.Width, grid.Height, grid.Values);
            AddUpsampled(grid, photo.ViewTransform(spec.InputWidth, spec.InputHeight, spec.Resize), spec, dogMap, width, height);
        }

        var (probability, score) = _head.PredictWithScores([features])[0];
        var sign = probability >= 0.5f ? 1f : -1f;
        for (var i = 0; i < dogMap.Length; i++)
        {
            dogMap[i] *= sign;
        }

        var pixels = new byte[width * height * 4];
        photo.RenderTo(width, height, ResizePolicy.Stretch, pixels);
        HeatmapOverlay.Blend(pixels, dogMap);
        return new Explanation(image, probability, score, _bias, heatmaps, width, height, dogMap, pixels);
    }

    // Runs one view; returns its pooled features and its CAM grid (flipped back when the view was mirrored).
    private (float[] Pooled, Grid Map) Map(Backbone backbone, byte[] rgba, int offset, bool mirrored)
    {
        var spec = backbone.Spec;
        var input = new float[backbone.Writer.Length];
        backbone.Writer.Write(rgba, input);
        var outputs = backbone.Run(input, [spec.PooledOutputName, spec.FeatureMapName!]);
        var (map, shape) = outputs[1];
        var nchw = spec.Layout == TensorLayout.Nchw;
        int channels = (int)(nchw ? shape[1] : shape[3]), rows = (int)(nchw ? shape[2] : shape[1]), columns = (int)(nchw ? shape[3] : shape[2]);
        if (shape.Length != 4 || channels != spec.FeatureDimension)
        {
            throw new InvalidOperationException($"Feature map '{spec.FeatureMapName}' of '{spec.Name}' has shape [{string.Join(", ", shape)}], not {spec.Layout} with {spec.FeatureDimension} channels.");
        }

        var cells = rows * columns;
        var cam = new float[cells];
        for (var cell = 0; cell < cells; cell++)
        {
            var sum = 0.0;
            for (var c = 0; c < channels; c++)
            {
                sum += (double)_weights[offset + c] * map[nchw ? (c * cells) + cell : (cell * channels) + c];
            }

            var (y, x) = (cell / columns, cell % columns);
            cam[(y * columns) + (mirrored ? columns - 1 - x : x)] = (float)sum;
        }

        return (outputs[0].Values, new Grid(columns, rows, cam));
    }

    // Adds a grid, bilinearly upsampled, to the photo-sized map: photo pixel → view pixel → grid cell.
    private static void AddUpsampled(Grid grid, (float ScaleX, float ScaleY, float OffsetX, float OffsetY) view, BackboneSpec spec, float[] target, int width, int height)
    {
        for (var py = 0; py < height; py++)
        {
            var vy = ((py + 0.5f) * view.ScaleY) + view.OffsetY;
            if (vy < 0 || vy > spec.InputHeight)
            {
                continue; // cropped away: this backbone did not see it
            }

            var gy = Math.Clamp((vy * grid.Height / spec.InputHeight) - 0.5f, 0, grid.Height - 1);
            int y0 = (int)gy, y1 = Math.Min(y0 + 1, grid.Height - 1);
            var fy = gy - y0;
            for (var px = 0; px < width; px++)
            {
                var vx = ((px + 0.5f) * view.ScaleX) + view.OffsetX;
                if (vx < 0 || vx > spec.InputWidth)
                {
                    continue;
                }

                var gx = Math.Clamp((vx * grid.Width / spec.InputWidth) - 0.5f, 0, grid.Width - 1);
                int x0 = (int)gx, x1 = Math.Min(x0 + 1, grid.Width - 1);
                var fx = gx - x0;
                var top = (grid.At(x0, y0) * (1 - fx)) + (grid.At(x1, y0) * fx);
                var bottom = (grid.At(x0, y1) * (1 - fx)) + (grid.At(x1, y1) * fx);
                target[(py * width) + px] += (top * (1 - fy)) + (bottom * fy);
            }
        }
    }

    private sealed record Grid(int Width, int Height, float[] Values)
    {
        public float At(int x, int y) => Values[(y * Width) + x];
    }
}
