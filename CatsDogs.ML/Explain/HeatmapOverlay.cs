namespace CatsDogs.ML.Explain;

/// <summary>
/// Draws a class activation map over a photo as the original app did: normalise to 0..1 by the maximum, drop values
/// ≤ 0.2, colour with JET and blend 0.8 × photo + 0.4 × heatmap.
/// </summary>
internal static class HeatmapOverlay
{
    public const float Threshold = 0.2f;

    /// <summary>Blends <paramref name="map"/> (one value per pixel, larger = hotter) into opaque RGBA <paramref name="rgba"/> in place.</summary>
    public static void Blend(byte[] rgba, float[] map)
    {
        var max = map.Length == 0 ? 0 : map.Max();
        for (var i = 0; i < map.Length; i++)
        {
            var heat = max > 0 ? Math.Max(0, map[i]) / max : 0;
            var (r, g, b) = heat > Threshold ? Jet(heat) : (0f, 0f, 0f);
            rgba[(i * 4) + 0] = Mix(rgba[(i * 4) + 0], r);
            rgba[(i * 4) + 1] = Mix(rgba[(i * 4) + 1], g);
            rgba[(i * 4) + 2] = Mix(rgba[(i * 4) + 2], b);
            rgba[(i * 4) + 3] = 255;
        }
    }

    /// <summary>The JET colour map (blue → cyan → yellow → red) at <paramref name="v"/> in 0..1, channels in 0..1.</summary>
    public static (float R, float G, float B) Jet(float v) =>
        (Clamp01(1.5f - Math.Abs((4 * v) - 3)), Clamp01(1.5f - Math.Abs((4 * v) - 2)), Clamp01(1.5f - Math.Abs((4 * v) - 1)));

    private static byte Mix(byte photo, float heat) => (byte)Math.Clamp(MathF.Round((0.8f * photo) + (0.4f * 255 * heat)), 0, 255);

    private static float Clamp01(float v) => Math.Clamp(v, 0, 1);
}
