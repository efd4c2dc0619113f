using System.Diagnostics;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Imaging;
using SkiaSharp;
using Xunit;
using Xunit.Abstractions;

namespace CatsDogs.ML.Tests.Robustness;

/// <summary>
/// Seeded, time-bounded fuzzing of the decode + preprocess path with mutated real JPEG and PNG bytes (bit flips,
/// truncation, chunk splicing, overwritten header bytes): every input either yields a finite tensor or an
/// <see cref="ImageDecodeException"/>; nothing else escapes and nothing hangs.
/// </summary>
public class FuzzTests(ITestOutputHelper output)
{
    private const int Iterations = 5000;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(40);

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void MutatedPhotos_DecodeOrFailCleanly()
    {
        var dataDir = TestEnvironment.DataDirectory;
        var jpegs = new[] { "cat.1.jpg", "dog.2.jpg", "dog.1043.jpg" }.Select(n => File.ReadAllBytes(Path.Combine(dataDir, n))).ToArray();
        using var bitmap = SKBitmap.Decode(jpegs[0]);
        using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        byte[][] seeds = [.. jpegs, png.ToArray()];
        var input = KnownBackbones.MobileNetV2.Preprocessing;
        var writer = new TensorWriter(input, meanImage: null);
        var scratch = new RenderScratch();
        var tensor = new float[writer.Length];

        var random = new Random(20261201);
        var outcomes = new Dictionary<string, int>();
        var clock = Stopwatch.StartNew();
        var iterations = 0;
        var worker = Task.Run(() =>
        {
            for (; iterations < Iterations && clock.Elapsed < Budget; iterations++)
            {
                var (bytes, how) = Mutate(seeds, random);
                string outcome;
                try
                {
                    using var views = PhotoViews.Decode(bytes, $"fuzz #{iterations} ({how})", input.Width, scratch);
                    writer.Write(views.Render(input, ImageView.Native), tensor);
                    Assert.All(tensor, v => Assert.True(float.IsFinite(v)));
                    outcome = "decoded";
                }
                catch (ImageDecodeException e)
                {
                    outcome = "refused: " + e.Reason.Split(':', '(')[0].Trim();
                }
                catch (Exception e)
                {
                    throw new InvalidOperationException($"fuzz #{iterations} ({how}) escaped with {e.GetType().Name}: {e.Message}", e);
                }

                outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            }
        });

        Assert.True(worker.Wait(Budget + TimeSpan.FromSeconds(30)), $"decoding hung after {iterations} inputs");
        output.WriteLine($"{iterations} mutated inputs in {clock.Elapsed.TotalSeconds:F1} s:");
        foreach (var (outcome, count) in outcomes.OrderByDescending(o => o.Value))
        {
            output.WriteLine($"  {count,5} {outcome}");
        }

        Assert.True(iterations >= 500, $"only {iterations} inputs in the time budget");
        Assert.True(outcomes.Count >= 2, "the mutations should both keep some photos decodable and break others");
    }

    private static (byte[] Bytes, string How) Mutate(byte[][] seeds, Random random)
    {
        var source = seeds[random.Next(seeds.Length)];
        var bytes = (byte[])source.Clone();
        switch (random.Next(5))
        {
            case 0:
                var flips = random.Next(1, 32);
                for (var i = 0; i < flips; i++)
                {
                    bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                }

                return (bytes, $"{flips} bit flips");
            case 1:
                var length = random.Next(bytes.Length);
                return (bytes[..length], $"truncated at {length}");
            case 2:
                var other = seeds[random.Next(seeds.Length)];
                int from = random.Next(other.Length), size = random.Next(1, Math.Min(4096, other.Length - from) + 1), at = random.Next(bytes.Length);
                return ([.. bytes[..at], .. other.AsSpan(from, size), .. bytes[at..]], $"spliced {size} bytes at {at}");
            case 3:
                var header = Math.Min(bytes.Length, 1024);
                for (var i = 0; i < 8; i++)
                {
                    bytes[random.Next(header)] = (byte)random.Next(256);
                }

                return (bytes, "8 header bytes overwritten");
            default:
                var cut = random.Next(2, bytes.Length);
                var gap = random.Next(1, Math.Min(2048, bytes.Length - cut) + 1);
                return ([.. bytes[..cut], .. bytes[(cut + gap)..]], $"{gap} bytes removed at {cut}");
        }
    }
}
