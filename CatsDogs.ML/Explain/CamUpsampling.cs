using CatsDogs.ML.Imaging;

namespace CatsDogs.ML.Explain;

/// <summary>A class activation map on a backbone's feature-map grid, row-major.</summary>
internal sealed record CamGrid(int Width, int Height, float[] Values)
{
    public float At(int x, int y) => Values[(y * Width) + x];

    /// <summary>The grid flipped left to right (a mirrored view's map, put back the photo's way round).</summary>
    public CamGrid Flipped()
    {
        var flipped = new float[Values.Length];
        for (var y = 0; y < Height; y++)
        {
            for (var x = 0; x < Width; x++)
            {
                flipped[(y * Width) + (Width - 1 - x)] = Values[(y * Width) + x];
            }
        }

        return this with { Values = flipped };
    }
}

/// <summary>Places a view's class activation map back into the photo's pixels.</summary>
internal static class CamUpsampling
{
    /// <summary>
    /// Adds <paramref name="weight"/> × <paramref name="grid"/>, bilinearly upsampled, to the photo-sized
    /// <paramref name="target"/> (<paramref name="width"/> × <paramref name="height"/>): each photo pixel's centre is
    /// mapped into the view (<paramref name="placement"/>, a <paramref name="viewWidth"/> × <paramref name="viewHeight"/>
    /// view) and from there onto the grid, whose cells cover the view evenly. Pixels the view did not show (cropped
    /// away) get nothing. When <paramref name="coverage"/> is given, <paramref name="weight"/> is also added to it at
    /// every pixel the view showed, so that <see cref="DivideByCoverage"/> can turn the sum into each pixel's average
    /// over the views that saw it.
    /// </summary>
    public static void AddUpsampled(CamGrid grid, ViewPlacement placement, int viewWidth, int viewHeight, float weight, Span<float> target, int width, int height, Span<float> coverage = default)
    {
        for (var py = 0; py < height; py++)
        {
            var vy = ((py + 0.5f) * placement.ScaleY) + placement.OffsetY;
            if (vy < 0 || vy > viewHeight)
            {
                continue;
            }

            var gy = Math.Clamp((vy * grid.Height / viewHeight) - 0.5f, 0, grid.Height - 1);
            int y0 = (int)gy, y1 = Math.Min(y0 + 1, grid.Height - 1);
            var fy = gy - y0;
            for (var px = 0; px < width; px++)
            {
                var vx = ((px + 0.5f) * placement.ScaleX) + placement.OffsetX;
                if (vx < 0 || vx > viewWidth)
                {
                    continue;
                }

                var gx = Math.Clamp((vx * grid.Width / viewWidth) - 0.5f, 0, grid.Width - 1);
                int x0 = (int)gx, x1 = Math.Min(x0 + 1, grid.Width - 1);
                var fx = gx - x0;
                var top = (grid.At(x0, y0) * (1 - fx)) + (grid.At(x1, y0) * fx);
                var bottom = (grid.At(x0, y1) * (1 - fx)) + (grid.At(x1, y1) * fx);
                target[(py * width) + px] += weight * ((top * (1 - fy)) + (bottom * fy));
                if (!coverage.IsEmpty)
                {
                    coverage[(py * width) + px] += weight;
                }
            }
        }
    }

    /// <summary>
    /// Divides each pixel's weighted sum by the weight of the views that showed it (pixels no view showed stay 0), so
    /// that where a crop ends the map does not drop to the share of the views that remain: no seam at crop edges.
    /// </summary>
    public static void DivideByCoverage(Span<float> target, ReadOnlySpan<float> coverage)
    {
        for (var i = 0; i < target.Length; i++)
        {
            target[i] = coverage[i] > 0 ? target[i] / coverage[i] : 0;
        }
    }
}
