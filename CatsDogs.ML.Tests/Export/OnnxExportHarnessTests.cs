using System.Diagnostics;
using System.Globalization;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Export;
using CatsDogs.ML.Features;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Tests.Harness;
using Microsoft.ML.OnnxRuntime;
using Xunit;
using Xunit.Abstractions;

namespace CatsDogs.ML.Tests.Export;

/// <summary>The exported ONNX model of the real backbones against the library, on 200 dev photos.</summary>
[Collection("trained resnet18")]
[Trait("Category", Category.Harness)]
public class OnnxExportHarnessTests(HelloWorldFixture trained, ITestOutputHelper output)
{
    [HarnessFact]
    public void ResNet18AndTheFourFused_PreResizedWithin1e4OfPredict_PhotoContractClose_ForBothViewSets()
    {
        var photos = trained.Test!.Shuffle(17).Take(200).ToArray();
        var subset = new ImageDataset(trained.Train!.Shuffle(11).Take(400));
        var four = BackboneCatalog.Default.Resolve(FusionFixture.FourBackbones);
        // ResNet18 in float32; the others in the default precision (int8 on a CPU with 8-bit dot products).
        using var resnetMirror = new CatsDogsTrainer(new CatsDogsOptions { Views = ImageView.NativeAndMirror, Precision = Precision.Fp32 }).Train(subset);
        using var fusedMirror = new CatsDogsTrainer(new CatsDogsOptions { Backbones = four, Views = ImageView.NativeAndMirror, ModelsDirectory = TestEnvironment.SharedModelsDirectory }).Train(subset);
        using var fusedDefault = new CatsDogsTrainer(new CatsDogsOptions { Backbones = four, ModelsDirectory = TestEnvironment.SharedModelsDirectory }).Train(subset);
        foreach (var classifier in new[] { resnetMirror, fusedMirror, trained.Classifier!, fusedDefault })
        {
            var name = $"{string.Join("+", classifier.Backbones.Select(b => b.Name))} [{string.Join(",", classifier.Views)}]";
            using var dir = TestEnvironment.NewTempDirectory();
            var auto = classifier.ExportOnnx(dir.File("auto.onnx"));
            OnnxExportTests.AssertWellFormed(ML.Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(auto.Path)).Graph);
            var expected = photos.Select(p => classifier.Predict(p.Path).DogProbability).ToArray();
            var input = classifier.Backbones[0].Preprocessing;
            string resizedNote;
            if (classifier.Views.SequenceEqual(ImageView.NativeAndMirror))
            {
                // Fed the library's own resized pixels: within 1e-4, one photo at a time and eight at a time.
                Assert.Equal(OnnxInputContract.Resized, auto.Input);
                var pixels = photos.Select(p => OnnxExportTests.ResizedRgb(p.Path, input)).ToArray();
                using var resized = new OnnxExportTests.ExportedModel(auto.Path);
                var one = pixels.Select(rgb => resized.Run(rgb, [1, input.Width, input.Width, 3]).P[0]).ToArray();
                var eight = pixels.Chunk(8).SelectMany(c => resized.Run(c.SelectMany(x => x).ToArray(), [c.Length, input.Width, input.Width, 3]).P).ToArray();
                var worstResized = Enumerable.Range(0, photos.Length).Max(i => Math.Max(Math.Abs(one[i] - expected[i]), Math.Abs(eight[i] - expected[i])));
                Assert.True(worstResized <= 1e-4, $"{name}: largest |ΔP| {worstResized}");
                resizedNote = string.Create(CultureInfo.InvariantCulture, $"pre-resized contract largest |ΔP| {worstResized:E1}");
            }
            else
            {
                // A squash and a crop cannot share one pre-resized input: auto picks the photo contract, rgb224 is refused.
                Assert.Equal(OnnxInputContract.Photo, auto.Input);
                Assert.Contains("frame the photo differently", Assert.Throws<ArgumentException>(() => classifier.ExportOnnx(dir.File("resized.onnx"), new OnnxExportOptions { Input = OnnxInputContract.Resized })).Message, StringComparison.Ordinal);
                resizedNote = "pre-resized contract refused (views frame the photo differently)";
            }

            // Fed the decoded photo (at the size the library decodes it): the graph crops and resizes (bilinear),
            // which differs a little from SkiaSharp's mipmapped resize.
            var photo = auto.Input == OnnxInputContract.Photo ? auto : classifier.ExportOnnx(dir.File("photo.onnx"), new OnnxExportOptions { Input = OnnxInputContract.Photo });
            using var photoModel = new OnnxExportTests.ExportedModel(photo.Path);
            var fromPhoto = photos.Select(p =>
            {
                var (rgb, w, h) = OnnxExportTests.DecodedRgb(p.Path, classifier.DecodeSize);
                return photoModel.Run(rgb, [1, h, w, 3]).P[0];
            }).ToArray();
            var meanDelta = Enumerable.Range(0, photos.Length).Average(i => Math.Abs(fromPhoto[i] - expected[i]));
            var sameLabel = Enumerable.Range(0, photos.Length).Count(i => (fromPhoto[i] >= 0.5f) == (expected[i] >= 0.5f)) / (double)photos.Length;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"EXPORT {name}: {auto.Bytes / 1048576.0:F1} MiB; {resizedNote}; photo contract mean |ΔP| {meanDelta:F4}, largest {Enumerable.Range(0, photos.Length).Max(i => Math.Abs(fromPhoto[i] - expected[i])):F4}, same label {sameLabel:P1}"));
            Assert.True(meanDelta <= 0.005, $"{name}: mean |ΔP| {meanDelta}");
            Assert.True(sameLabel >= 0.99, $"{name}: same label on {sameLabel:P1}");

            // Size: float32, about the sum of the backbone files (the MobileNets' unused ImageNet heads are pruned);
            // int8, at most 35 % of it (issue 23).
            var files = classifier.Backbones.Sum(b => new FileInfo(BackboneCatalog.LocateFile(b, TestEnvironment.SharedModelsDirectory)).Length);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {Precisions.Name(classifier.Precision)}: backbone files {files / 1048576.0:F1} MiB, export {auto.Bytes / 1048576.0:F1} MiB"));
            Assert.InRange(auto.Bytes, files * (classifier.Precision == Precision.Int8 ? 0.1 : 0.5), files * (classifier.Precision == Precision.Int8 ? 0.35 : 1.1));
        }
    }
}
