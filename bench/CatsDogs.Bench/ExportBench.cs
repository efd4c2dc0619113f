using System.Diagnostics;
using CatsDogs.ML;
using CatsDogs.ML.Data;
using CatsDogs.ML.Export;
using CatsDogs.ML.Imaging;
using Microsoft.ML.OnnxRuntime;

namespace CatsDogs.Bench;

/// <summary>
/// The exported ONNX model's throughput in plain ONNX Runtime (one session, its default threading, batches of 1 and
/// 8) next to the library's own PredictMany on the same photos, for a ResNet18 model with the default views (the
/// photo contract: the graph frames, resizes and mirrors) and one with the photo and its mirror (the pre-resized
/// contract); with each file's size (docs/export.md).
/// </summary>
internal static class ExportBench
{
    public static int Run(string data, int count)
    {
        var all = ImageDataset.FromFolder(data).Shuffle(seed: 17);
        var train = ImageDataset.FromFiles(all.Take(200).Select(p => p.Path));
        var photos = all.Skip(200).Take(count).ToArray();
        using var work = new TempFolder();
        var dir = work.Path;
        Console.WriteLine($"Exported model vs library — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, ONNX Runtime CPU; {photos.Length} dev photos, decoding not timed for ONNX Runtime.");
        Console.WriteLine();
        Console.WriteLine("| model | file | library PredictMany (decode included) | ONNX Runtime, batch 1 | batch 8 |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        foreach (var (name, views) in new[] { ($"ResNet18, default views {string.Join(",", ImageView.Defaults)} (photo contract)", ImageView.Defaults), ($"ResNet18, {string.Join(",", ImageView.NativeAndMirror)} (pre-resized 224 × 224)", ImageView.NativeAndMirror) })
        {
            using var classifier = new CatsDogsTrainer(new CatsDogsOptions { Views = views }).Train(train);
            var export = classifier.ExportOnnx(Path.Combine(dir, $"{views.Count}.onnx"));
            using var noCache = SaveAndLoad(classifier, dir);
            noCache.PredictMany(photos.Take(4).ToArray());
            var clock = Stopwatch.StartNew();
            noCache.PredictMany(photos);
            var library = photos.Length / clock.Elapsed.TotalSeconds;
            var inputs = Inputs(photos, export.Input, classifier);
            var (one, eight) = (Rate(export.Path, inputs, 1), Rate(export.Path, inputs, 8));
            Console.WriteLine($"| {name} | {export.Bytes / 1048576.0:F1} MiB | {library:F1} photos/s | {one:F1} photos/s | {eight:F1} photos/s |");
        }

        return 0;
    }

    private static CatsDogsClassifier SaveAndLoad(CatsDogsClassifier classifier, string dir)
    {
        var path = Path.Combine(dir, "model.zip");
        classifier.Save(path);
        return CatsDogsClassifier.Load(path, useCache: false);
    }

    // Photos as the contract wants them: 224 × 224 RGB, or decoded at the model's decode size; for batches, the
    // photos of the most common decoded size (a batch shares one shape).
    private static List<(byte[] Rgb, long[] Shape)> Inputs(IReadOnlyList<ImageEntry> photos, OnnxInputContract contract, CatsDogsClassifier classifier)
    {
        var decodeSize = contract == OnnxInputContract.Resized ? 224 : classifier.DecodeSize;
        var scratch = new RenderScratch();
        var inputs = new List<(byte[], long[])>();
        foreach (var photo in photos)
        {
            using var views = PhotoViews.Decode(File.ReadAllBytes(photo.Path), photo.Path, decodeSize, scratch);
            if (contract == OnnxInputContract.Resized)
            {
                inputs.Add((RgbaPixels.ToRgb(views.Render(classifier.Backbones[0].Preprocessing, ImageView.Native)), [1, 224, 224, 3]));
            }
            else
            {
                var rgba = new byte[views.Image.Width * views.Image.Height * 4];
                views.Image.RenderTo(rgba);
                inputs.Add((RgbaPixels.ToRgb(rgba), [1, views.Image.Height, views.Image.Width, 3]));
            }
        }

        return inputs;
    }

    private static double Rate(string model, List<(byte[] Rgb, long[] Shape)> inputs, int batch)
    {
        using var session = new InferenceSession(model);
        var groups = batch == 1
            ? inputs.Select(i => (i.Rgb, i.Shape)).ToList()
            : inputs.GroupBy(i => (i.Shape[1], i.Shape[2])).MaxBy(g => g.Count())!.Chunk(batch).Where(c => c.Length == batch)
                .Select(c => (c.SelectMany(i => i.Rgb).ToArray(), new long[] { batch, c[0].Shape[1], c[0].Shape[2], 3 })).ToList();
        void RunAll(int times)
        {
            for (var t = 0; t < times; t++)
            {
                foreach (var (rgb, shape) in groups)
                {
                    using var value = OrtValue.CreateTensorValueFromMemory(rgb, shape);
                    using var runOptions = new RunOptions();
                    using var outputs = session.Run(runOptions, ["image"], [value], ["dog_probability"]);
                }
            }
        }

        RunAll(1); // warm-up
        var clock = Stopwatch.StartNew();
        RunAll(2);
        return 2.0 * groups.Count * batch / clock.Elapsed.TotalSeconds;
    }
}
