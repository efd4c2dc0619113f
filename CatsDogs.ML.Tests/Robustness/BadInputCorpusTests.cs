using System.Diagnostics;
using System.Globalization;
using CatsDogs.ML.Data;
using CatsDogs.ML.Tests.Harness;
using SkiaSharp;
using Xunit;
using Xunit.Abstractions;

namespace CatsDogs.ML.Tests.Robustness;

/// <summary>
/// A corpus of bad, odd and valid-but-unusual inputs, generated from a real photo and from scratch, scored in one
/// batch: every file's outcome is pinned (scored, or skipped with a named reason), and nothing is lost.
/// </summary>
[Collection("trained resnet18")]
public class BadInputCorpusTests(HelloWorldFixture trained, ITestOutputHelper output)
{
    private const string Scored = "scored";

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void EveryCorpusFile_IsScoredOrSkippedAsPinned_AndNothingIsLost()
    {
        var dataDir = TestEnvironment.DataDirectory;
        using var dir = TestEnvironment.NewTempDirectory();
        var photo = File.ReadAllBytes(Path.Combine(dataDir, "cat.1.jpg"));
        var expected = new Dictionary<string, string>(StringComparer.Ordinal);
        void Add(string name, byte[] bytes, string outcome)
        {
            File.WriteAllBytes(dir.File(name), bytes);
            expected[dir.File(name)] = outcome;
        }

        Add("original.jpg", photo, Scored);
        Add("empty.jpg", [], "empty");
        Add("text.jpg", "this is a text file, not a photo\n"u8.ToArray(), "not an image");
        Add("random-bytes.jpg", RandomBytes(5000, seed: 1), "not an image");
        foreach (var percent in new[] { 10, 50, 95 })
        {
            Add($"truncated-{percent}.jpg", photo[..(photo.Length * percent / 100)], "truncated");
        }

        Add("header-only.jpg", photo[..(StartOfScan(photo) + 2)], "truncated");
        Add("semi-transparent.png", Recode(photo, SKEncodedImageFormat.Png, alpha: 128), Scored);
        Add("fully-transparent.png", TestImages.Encode(64, 64, (_, _) => SKColors.Transparent), Scored);
        Add("grayscale.jpg", Recode(photo, SKEncodedImageFormat.Jpeg, gray: true), Scored);
        Add("one-pixel.png", TestImages.Encode(1, 1, (_, _) => SKColors.Orange), Scored);
        Add("sliver-2x10000.png", TestImages.Encode(2, 10000, (_, y) => new SKColor((byte)(y % 256), 90, 200)), Scored);
        Add("huge-12000x12000.jpg", Flat(12000, 12000, SKEncodedImageFormat.Jpeg), Scored);
        Add("too-big-9000x9000.png", Flat(9000, 9000, SKEncodedImageFormat.Png), "decode budget");
        Add("exif-rotated-6.jpg", TestImages.WithExifOrientation(photo, 6), Scored);
        Add("photo.webp", Recode(photo, SKEncodedImageFormat.Webp), Scored);
        Add("png-named.jpg", Recode(photo, SKEncodedImageFormat.Png), Scored);
        Add("chat été 猫 1.jpg", photo, Scored);
        Directory.CreateDirectory(dir.File("x.jpg"));
        Add("x.jpg/inside.jpg", photo, Scored);
        Add("vanishes.jpg", photo, "does not exist");
        foreach (var (name, args) in new[] { ("cmyk.jpg", "-colorspace CMYK"), ("photo.gif", ""), ("photo.bmp", ""), ("deep-16bit.png", "-depth 16") })
        {
            if (ImageMagick.Convert(dir.File("original.jpg"), args, dir.File(name)))
            {
                expected[dir.File(name)] = Scored;
            }
        }

        var listed = ImageDataset.FromFolder(dir.Path);
        File.Delete(dir.File("vanishes.jpg"));
        var clock = Stopwatch.StartNew();
        var result = trained.Classifier!.PredictMany(listed);
        output.WriteLine($"{listed.Count} files in {clock.Elapsed.TotalSeconds:F1} s");

        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), listed.Select(e => e.Path).Order(StringComparer.Ordinal));
        Assert.Equal(listed.Count, result.Count);
        var original = result.Scored.Single(s => s.Image.Path == dir.File("original.jpg")).DogProbability;
        foreach (var (path, outcome) in expected.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            var scored = result.Scored.SingleOrDefault(s => s.Image.Path == path);
            var skipped = result.Skipped.SingleOrDefault(s => s.Image.Path == path);
            var name = Path.GetRelativePath(dir.Path, path);
            output.WriteLine(scored is not null
                ? string.Create(CultureInfo.InvariantCulture, $"| {name} | scored, P(dog) {scored.DogProbability:F3} |")
                : $"| {name} | skipped: {skipped?.Reason} |");
            if (outcome == Scored)
            {
                Assert.True(scored is not null, $"{name} was skipped: {skipped?.Reason}");
            }
            else
            {
                Assert.True(skipped is not null, $"{name} was scored");
                Assert.Contains(outcome, skipped.Reason, StringComparison.Ordinal);
            }
        }

        // Same picture, other encodings: the same answer, up to the encodings' own losses.
        foreach (var name in new[] { "png-named.jpg", "chat été 猫 1.jpg", "x.jpg/inside.jpg", "semi-transparent.png", "photo.webp", "cmyk.jpg", "photo.bmp", "deep-16bit.png" })
        {
            var other = result.Scored.SingleOrDefault(s => s.Image.Path == dir.File(name));
            if (other is not null)
            {
                Assert.True(Math.Abs(other.DogProbability - original) < 0.1, $"{name}: P(dog) {other.DogProbability:F3} vs {original:F3} for the original");
            }
        }
    }

    // The byte after the JPEG start-of-scan marker's length field: everything before it is header.
    private static int StartOfScan(byte[] jpeg)
    {
        for (var i = 2; i < jpeg.Length - 1; i++)
        {
            if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xDA)
            {
                return i + 2;
            }
        }

        throw new InvalidOperationException("no start of scan");
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        bytes[0] = 0xFF; // looks like the start of something, then is not
        return bytes;
    }

    private static byte[] Recode(byte[] encoded, SKEncodedImageFormat format, byte alpha = 255, bool gray = false)
    {
        using var source = SKBitmap.Decode(encoded);
        using var target = new SKBitmap(new SKImageInfo(source.Width, source.Height, gray ? SKColorType.Gray8 : SKColorType.Rgba8888, gray ? SKAlphaType.Opaque : SKAlphaType.Unpremul));
        using (var canvas = new SKCanvas(target))
        using (var paint = new SKPaint { Color = SKColors.White.WithAlpha(alpha) })
        {
            canvas.Clear(SKColors.Transparent);
            using var image = SKImage.FromBitmap(source);
            canvas.DrawImage(image, 0, 0, new SKSamplingOptions(SKFilterMode.Nearest), paint);
        }

        using var data = target.Encode(format, 95);
        return data.ToArray();
    }

    // A flat grey image of the given size, encoded without holding an RGBA copy (one byte per pixel).
    private static byte[] Flat(int width, int height, SKEncodedImageFormat format)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        bitmap.Erase(new SKColor(120, 120, 120));
        using var data = bitmap.Encode(format, 80);
        return data.ToArray();
    }
}

/// <summary>ImageMagick (Debian's imagemagick package) for formats SkiaSharp cannot write: CMYK JPEG, GIF, BMP, 16-bit PNG.</summary>
internal static class ImageMagick
{
    private static readonly string? Tool = new[] { "/usr/bin/convert-im6.q16", "/usr/bin/convert" }.FirstOrDefault(File.Exists);

    /// <summary>Converts <paramref name="input"/>; false (the case is skipped) where ImageMagick is absent, except in CI, where that fails.</summary>
    public static bool Convert(string input, string arguments, string outputPath)
    {
        if (Tool is null)
        {
            Xunit.Assert.False(TestEnvironment.InCi, "ImageMagick is not installed (.ci/run installs Debian's imagemagick).");
            return false;
        }

        var start = new ProcessStartInfo(Tool) { RedirectStandardError = true };
        start.ArgumentList.Add(input);
        foreach (var arg in arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            start.ArgumentList.Add(arg);
        }

        start.ArgumentList.Add(outputPath);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Xunit.Assert.True(process.ExitCode == 0, $"ImageMagick failed on {outputPath}: {error}");
        return true;
    }
}
