using System.Globalization;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Explain;
using CatsDogs.ML.Tests.Harness;
using SkiaSharp;
using Xunit;
using Xunit.Abstractions;

namespace CatsDogs.ML.Tests.Explain;

/// <summary>Class activation maps on real photos, for the hello world's ResNet18 and for models of each real backbone.</summary>
[Collection("trained resnet18")]
public class ExplainTests(HelloWorldFixture trained, ITestOutputHelper output)
{
    public static TheoryData<string> RealBackbones => new() { "resnet18", "mobilenet_v2", "mobilenet_v2_tf2", "mobilenet_v1" };

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void CamGridMeans_PlusBias_AreTheHeadsScore_AndPDogEqualsPredict_ForSingleAndFusedModels()
    {
        using var fused = Train("resnet18,mobilenet_v2,mobilenet_v2_tf2,mobilenet_v1");
        foreach (var classifier in new[] { trained.Classifier!, fused })
        {
            using var explainer = classifier.CreateExplainer();
            var worst = 0.0;
            foreach (var photo in trained.Test!.Take(4))
            {
                var e = explainer.Explain(photo.Path);
                var sum = e.Bias + e.Heatmaps.Sum(h => h.Contribution);
                worst = Math.Max(worst, Math.Abs(e.Score - sum));
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{string.Join("+", classifier.Backbones.Select(b => b.Name))} {Path.GetFileName(photo.Path)}: score {e.Score:F6}, bias + Σ CAM means {sum:F6}, P(dog) {e.DogProbability:F4}"));
                Assert.Equal(classifier.Backbones.Count, e.Heatmaps.Count);
                Assert.True(Math.Abs(e.Score - sum) <= 1e-5, $"score {e.Score} vs bias + Σ contributions {sum}");

                // One pipeline: the same bytes give the same P(dog), bit for bit, from Explain and Predict.
                Assert.Equal(classifier.Predict(photo.Path).DogProbability, e.DogProbability);
                Assert.Equal(classifier.Predict(File.ReadAllBytes(photo.Path)).DogProbability, explainer.Explain(File.ReadAllBytes(photo.Path)).DogProbability);
            }

            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"largest |score − (bias + Σ contributions)|: {worst:E1}"));
        }
    }

    [HarnessTheory]
    [Trait("Category", Category.Harness)]
    [MemberData(nameof(RealBackbones))]
    public void CatPastedIntoACorner_PutsThePeakInThatCorner(string backbone)
    {
        var dataDir = TestEnvironment.DataDirectory;
        using var classifier = backbone == "resnet18" ? null : Train(backbone);
        var model = classifier ?? trained.Classifier!;
        using var explainer = model.CreateExplainer();
        foreach (var (left, top) in new[] { (true, true), (false, false) })
        {
            var canvas = CatOnCanvas(Path.Combine(dataDir, "cat.1909.jpg"), left, top);
            var e = explainer.Explain(canvas, $"cat.1909 on a canvas, {(top ? "top" : "bottom")}-{(left ? "left" : "right")}");
            output.WriteLine($"{backbone}: cat {(top ? "top" : "bottom")}-{(left ? "left" : "right")}: P(dog) {e.DogProbability:F3}, peak {e.Peak}");
            Assert.True(e.DogProbability < 0.5, $"P(dog) = {e.DogProbability}");
            Assert.Equal(left, e.Peak.X < CanvasSize / 2);
            Assert.Equal(top, e.Peak.Y < CanvasSize / 2);
        }
    }

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void Overlay_HasThePhotosSize_AndBatchEqualsOneByOne()
    {
        var photos = trained.Test!.Shuffle(3).Take(6).ToArray();
        using var explainer = trained.Classifier!.CreateExplainer();
        var batch = explainer.ExplainMany(photos.Append(new ImageEntry("/no/such/photo.jpg", PetLabel.Cat, null)).ToArray());
        Assert.Equal(7, batch.Count);
        Assert.Equal("the file does not exist.", Assert.Single(batch.Skipped).Reason);
        for (var i = 0; i < photos.Length; i++)
        {
            var one = explainer.Explain(photos[i].Path);
            var many = batch.Explained[i];
            Assert.Equal(photos[i].Path, many.Image.Path);
            Assert.Equal(one.Peak, many.Peak);
            Assert.Equal(one.DogProbability, many.DogProbability);
            Assert.Equal(one.Heatmaps.Single().Values, many.Heatmaps.Single().Values);

            using var codec = SKCodec.Create(photos[i].Path);
            Assert.Equal((codec.Info.Width, codec.Info.Height), (one.Width, one.Height));
            using var png = SKBitmap.Decode(one.OverlayPng());
            Assert.Equal((one.Width, one.Height), (png.Width, png.Height));
            Assert.Equal(one.Width * one.Height, one.Combined.Count);
        }

        using var sheet = SKBitmap.Decode(ContactSheet.RenderPng(batch.Explained));
        Assert.Equal(4 * 256, sheet.Width);
    }

    private const int CanvasSize = 640;

    // A real cat photo, 240 px wide, in one corner of a flat grey 640 × 640 canvas, as PNG bytes.
    private static byte[] CatOnCanvas(string photo, bool left, bool top)
    {
        using var cat = SKBitmap.Decode(photo);
        var width = 240;
        var height = cat.Height * width / cat.Width;
        using var canvasBitmap = new SKBitmap(new SKImageInfo(CanvasSize, CanvasSize, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using (var canvas = new SKCanvas(canvasBitmap))
        {
            canvas.Clear(new SKColor(128, 128, 128));
            var x = left ? 16 : CanvasSize - width - 16;
            var y = top ? 16 : CanvasSize - height - 16;
            using var image = SKImage.FromBitmap(cat);
            canvas.DrawImage(image, SKRect.Create(x, y, width, height), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        }

        using var data = canvasBitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    // A model of the given backbones on 400 training photos (their features are cached by the fusion fixture).
    private CatsDogsClassifier Train(string backbones)
    {
        var options = new CatsDogsOptions { Backbones = BackboneCatalog.Default.Resolve(backbones), ModelsDirectory = TestEnvironment.SharedModelsDirectory };
        return new CatsDogsTrainer(options).Train(new ImageDataset(trained.Train!.Shuffle(11).Take(400)));
    }
}
