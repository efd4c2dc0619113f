using System.Diagnostics;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Features;
using CatsDogs.ML.Imaging;
using Xunit;
using Xunit.Abstractions;

namespace CatsDogs.ML.Tests.Quantization;

/// <summary>
/// ResNet18 trained in int8 and in fp32 on the same 200 real photos (100 cats, 100 dogs; the native view, no cache,
/// int8 calibrated on the 200), compared on 100 others: P(dog) close, labels agree; the int8 export is a fraction of
/// the fp32 one. Item 4's log-loss bounds on the dev split and other-pets are a separate, larger harness.
/// </summary>
[Trait("Category", Category.Harness)]
public class Int8HarnessTests(ITestOutputHelper output)
{
    [HarnessFact]
    public void ResNet18_Int8AgainstFp32_On100RealPhotos_CloseDogProbability_SameLabels_ExportUnder35Percent()
    {
        var clock = Stopwatch.StartNew();
        var all = ImageDataset.FromFolder(TestEnvironment.DataDirectory).Shuffle(seed: 23);
        var train = new ImageDataset(all.Where(p => p.Label == PetLabel.Cat).Take(100).Concat(all.Where(p => p.Label == PetLabel.Dog).Take(100)));
        var check = all.Where(p => !train.Contains(p)).Take(100).ToArray();
        var options = new CatsDogsOptions
        {
            Backbones = [KnownBackbones.ResNet18], Views = [ImageView.Native], ModelsDirectory = TestEnvironment.SharedModelsDirectory, UseCache = false, Folds = 3,
        };
        using var fp32 = new CatsDogsTrainer(options).Train(train);
        using var int8 = new CatsDogsTrainer(options with { Features = options.Features with { Precision = Precision.Int8 } }).Train(train);
        var p32 = check.Select(p => fp32.Predict(p.Path).DogProbability).ToArray();
        var p8 = check.Select(p => int8.Predict(p.Path).DogProbability).ToArray();
        var deltas = p32.Zip(p8, (a, b) => (double)Math.Abs(a - b)).ToArray();
        var agreement = p32.Zip(p8).Count(x => (x.First >= 0.5f) == (x.Second >= 0.5f)) / (double)check.Length;
        double LogLoss(float[] p) => check.Select((e, i) => -Math.Log(Math.Clamp(e.Label == PetLabel.Dog ? p[i] : 1 - p[i], 1e-15, 1))).Average();

        using var dir = TestEnvironment.NewTempDirectory();
        var size32 = fp32.ExportOnnx(dir.File("fp32.onnx")).Bytes;
        var size8 = int8.ExportOnnx(dir.File("int8.onnx")).Bytes;
        fp32.Save(dir.File("fp32.zip"));
        int8.Save(dir.File("int8.zip"));
        var load = clock.Elapsed;
        using (var loaded = CatsDogsClassifier.Load(dir.File("fp32.zip"), TestEnvironment.SharedModelsDirectory, useCache: false))
        {
            load = clock.Elapsed - load;
        }

        var load8 = clock.Elapsed;
        using (var loaded = CatsDogsClassifier.Load(dir.File("int8.zip"), TestEnvironment.SharedModelsDirectory, useCache: false))
        {
            load8 = clock.Elapsed - load8;
            Assert.Equal(p8[0], loaded.Predict(check[0].Path).DogProbability);
        }

        output.WriteLine($"ResNet18, 200 training photos, 100 check photos, native view: |ΔP| mean {deltas.Average():F4}, max {deltas.Max():F4}; labels agree {agreement:P0}; "
            + $"log loss fp32 {LogLoss(p32):F4}, int8 {LogLoss(p8):F4}; export {size8:N0} B int8 against {size32:N0} B fp32 ({(double)size8 / size32:P1}); load fp32 {load.TotalSeconds:F1} s, int8 {load8.TotalSeconds:F1} s (quantized in memory); {clock.Elapsed.TotalSeconds:F0} s");

        Assert.Equal(200, Assert.Single(int8.Calibrations!).PhotoSha256.Count);
        Assert.True(deltas.Average() < 0.02, $"mean |ΔP| {deltas.Average():F4}");
        Assert.True(agreement >= 0.97, $"labels agree on {agreement:P0}");
        Assert.True(size8 <= 0.35 * size32, $"int8 export {size8:N0} B is more than 35 % of fp32's {size32:N0} B");
    }
}
