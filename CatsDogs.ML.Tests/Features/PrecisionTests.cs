using System.Runtime.InteropServices;
using CatsDogs.ML.Features;
using Xunit;

namespace CatsDogs.ML.Tests.Features;

[Trait("Category", Category.Unit)]
public class PrecisionTests
{
    [Fact]
    public void Int8DotProductDetection_AgreesWithTheKernelsCpuFlags()
    {
        if (RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64 || !OperatingSystem.IsLinux())
        {
            return; // the kernel's flags are read from /proc/cpuinfo: Linux x86-64 only (CI is)
        }

        var flags = File.ReadLines("/proc/cpuinfo").First(l => l.StartsWith("flags", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var expected = flags.Contains("avx_vnni") || flags.Contains("avx512_vnni");
        Assert.Equal(expected, Precisions.CpuHasInt8DotProduct);
    }

    [Fact]
    public void TrainingPrecision_OfTheDefaultAuto_IsInt8OnlyOnTheCpuWithDotProducts_AndForBackbonesWithAFeatureMap()
    {
        var options = new FeatureOptions();
        Assert.Equal(Precision.Auto, options.Precision);
        Assert.Equal(Precisions.CpuHasInt8DotProduct ? Precision.Int8 : Precision.Fp32, options.TrainingPrecision);
        Assert.Equal(Precision.Fp32, (options with { Device = "cuda" }).TrainingPrecision);
        Assert.Equal(Precision.Fp32, (options with { Backbones = [options.Backbones[0] with { FeatureMapName = null }] }).TrainingPrecision);
        Assert.Equal(Precision.Fp32, (options with { Precision = Precision.Fp32 }).TrainingPrecision);
        Assert.Equal(Precision.Int8, (options with { Precision = Precision.Int8 }).TrainingPrecision);
    }

    [Fact]
    public void Names_RoundTrip_AndUnknownNamesAreNull()
    {
        foreach (var precision in Enum.GetValues<Precision>())
        {
            Assert.Equal(precision, Precisions.Parse(Precisions.Name(precision)));
            Assert.Equal(precision, Precisions.Parse(Precisions.Name(precision).ToUpperInvariant()));
        }

        Assert.Null(Precisions.Parse("int4"));
        Assert.Null(Precisions.Parse(null));
    }
}
