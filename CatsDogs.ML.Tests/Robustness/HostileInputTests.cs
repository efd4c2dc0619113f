using System.Diagnostics;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using Xunit;

namespace CatsDogs.ML.Tests.Robustness;

/// <summary>
/// What an attacker or a careless user puts in a folder, a catalogue or an output path, against the library itself:
/// nothing hangs, nothing is lost, every input is scored or skipped with its reason. Cases the OS cannot make here
/// (FIFOs, non-UTF-8 names off Linux) are skipped, saying so.
/// </summary>
[Collection("tiny model")]
[Trait("Category", Category.Unit)]
public class HostileInputTests(TinyModel tiny)
{
    [SkippableFact]
    public void Fifo_NamedLikeAPhoto_IsSkippedAsNotARegularFile_WithoutBlocking()
    {
        using var dir = CopyOfPhotos(4);
        MakeFifo(dir.File("cat.901.jpg"));
        var result = RunBounded(() => tiny.Classifier.PredictFolder(dir.Path));
        Assert.Equal(5, result.Count);
        var skipped = Assert.Single(result.Skipped);
        Assert.EndsWith("cat.901.jpg", skipped.Image.Path, StringComparison.Ordinal);
        Assert.Contains("not a regular file (a FIFO, socket or device", skipped.Reason, StringComparison.Ordinal);
        Assert.Throws<ImageDecodeException>(() => RunBounded(() => tiny.Classifier.Predict(dir.File("cat.901.jpg"))));
    }

    [Fact]
    public void LinkToDevZero_IsSkipped_NotReadForever()
    {
        using var dir = CopyOfPhotos(4);
        File.CreateSymbolicLink(dir.File("dog.902.jpg"), "/dev/zero");
        var result = RunBounded(() => tiny.Classifier.PredictFolder(dir.Path));
        Assert.Equal(4, result.Scored.Count);
        Assert.Contains("not a regular file", Assert.Single(result.Skipped).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void SelfLinksAndLinksToAParent_NeverLoop_AndListEachPhotoOnce()
    {
        using var dir = CopyOfPhotos(6);
        Directory.CreateDirectory(dir.File("inner"));
        File.Copy(Path.Combine(tiny.PhotosDirectory, "dog.12.png"), dir.File("inner/dog.99.png"));
        Directory.CreateSymbolicLink(dir.File("a"), ".");
        Directory.CreateSymbolicLink(dir.File("b"), ".");
        Directory.CreateSymbolicLink(dir.File("inner/up"), "..");
        Directory.CreateSymbolicLink(dir.File("again"), dir.File("inner"));

        var photos = RunBounded(() => ImageDataset.FromFolder(dir.Path));
        Assert.Equal(7, photos.Count);
        Assert.Equal(7, photos.Select(p => Path.GetFileName(p.Path)).Distinct().Count());
    }

    [Fact]
    public void Listing_HonoursCancellation()
    {
        using var dir = CopyOfPhotos(2);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => ImageDataset.FromFolder(dir.Path, cancellationToken: cancelled.Token));
    }

    [Fact]
    public void HugeFile_NamedLikeAPhoto_IsSkippedBySize_WithoutBeingRead()
    {
        using var dir = CopyOfPhotos(2);
        using (var sparse = File.Create(dir.File("cat.903.jpg")))
        {
            sparse.SetLength(1900L * 1024 * 1024); // a 1.9 GB hole: nothing is written, so only a read would cost
        }

        var before = Process.GetCurrentProcess().PeakWorkingSet64;
        var result = RunBounded(() => tiny.Classifier.PredictFolder(dir.Path));
        var skipped = Assert.Single(result.Skipped);
        Assert.Contains("more than the photo size limit of 67,108,864 bytes (64 MiB)", skipped.Reason, StringComparison.Ordinal);
        Assert.True(Process.GetCurrentProcess().PeakWorkingSet64 - before < 512L * 1024 * 1024, "the huge file was read");
    }

    [SkippableFact]
    public void NonUtf8FileName_IsSkipped_SayingToRenameIt()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Only Linux file names can hold bytes that are not UTF-8.");
        using var dir = CopyOfPhotos(2);
        Shell($"cp \"$0\" \"$1/cat.$(printf '\\377')x.png\"", Path.Combine(tiny.PhotosDirectory, "cat.1.png"), dir.Path);
        var result = tiny.Classifier.PredictFolder(dir.Path);
        Assert.Equal(3, result.Count);
        Assert.Contains("not valid UTF-8", Assert.Single(result.Skipped).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void OutputFolderInsideTheData_IsNeverReadBackAsPhotos()
    {
        using var dir = CopyOfPhotos(4);
        var overlays = OutputFile.PrepareFolder(dir.File("cam"));
        using (var explainer = tiny.Classifier.CreateExplainer())
        {
            explainer.ExplainEach(ImageDataset.FromFolder(dir.Path), e => e.SaveOverlayPng(Path.Combine(overlays, Path.GetFileNameWithoutExtension(e.Image.Path) + ".cam.png")));
        }

        Assert.Equal(4, Directory.GetFiles(overlays, "*.cam.png").Length);
        Assert.Equal(4, ImageDataset.FromFolder(dir.Path).Count); // a later listing skips the marked folder
        Assert.Equal(4, ImageDataset.FromFolder(overlays).Count); // listing the output folder itself still works
    }

    [Fact]
    public void ExplainEach_HandsOverEachExplanation_InOrder_BeforeTheBatchEnds()
    {
        var photos = ImageDataset.FromFolder(tiny.PhotosDirectory);
        using var explainer = tiny.Classifier.CreateExplainer();
        var order = new List<string>();
        var reportsBefore = new List<int>();
        var done = 0;
        var skipped = explainer.ExplainEach(photos, e =>
        {
            order.Add(e.Image.Path);
            reportsBefore.Add(Volatile.Read(ref done));
        }, new InlineProgress(p => Volatile.Write(ref done, p.Completed)));
        Assert.Empty(skipped);
        Assert.Equal(photos.Select(p => p.Path), order);
        Assert.Equal(0, reportsBefore[0]); // the first photo is handed over before the batch has finished
        Assert.True(reportsBefore[^1] < photos.Count);
    }

    [Fact]
    public void Catalogue_PathsSizesAndNonsense_AreRefused_BeforeAnyFileIsOpened()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        foreach (var (json, problem) in new[]
        {
            ("\"fileName\": \"/dev/zero\"", "bare file name"),
            ("\"fileName\": \"../models/tiny.onnx\"", "bare file name"),
            ("\"width\": 30000, \"height\": 30000", "outside 16…4096"),
            ("\"featureDimension\": 2147483647", "outside 1…65536"),
            ("\"name\": null", "name"),
        })
        {
            var spec = BackboneCatalogJson.Serialize([TinyModel.Spec with { Name = "mine" }]);
            var key = json.Split(':')[0];
            var line = spec.Split('\n').First(l => l.TrimStart().StartsWith(key, StringComparison.Ordinal));
            var edited = spec.Replace(line, line[..(line.IndexOf('"'))] + json + (line.TrimEnd().EndsWith(',') ? "," : ""), StringComparison.Ordinal);
            File.WriteAllText(dir.File("mine.json"), edited);
            var e = Assert.Throws<ArgumentException>(() => BackboneCatalog.Default.WithFile(dir.File("mine.json")));
            Assert.Contains(problem, e.Message, StringComparison.Ordinal);
            Assert.Contains("mine.json", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void OutputFile_RefusesInputsAndFolders_ReplacesStaleTemporaryFiles_AndKeepsThePreviousFileOnFailure()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var model = dir.File("m.zip");
        File.WriteAllText(model, "the model");
        Assert.Contains("also an input", Assert.Throws<ArgumentException>(() => OutputFile.Prepare(model, [model])).Message, StringComparison.Ordinal);
        File.CreateSymbolicLink(dir.File("alias.zip"), model);
        Assert.Throws<ArgumentException>(() => OutputFile.Prepare(dir.File("alias.zip"), [model])); // the same file by another name
        Assert.Contains("is a folder", Assert.Throws<ArgumentException>(() => OutputFile.Prepare(dir.Path, [])).Message, StringComparison.Ordinal);
        Assert.Equal(dir.File("new/deep/out.csv"), OutputFile.Prepare(dir.File("new/deep/out.csv"), [model]));
        Assert.True(Directory.Exists(dir.File("new/deep")));

        var output = dir.File("out.csv");
        File.WriteAllText(output + ".tmp", "left by a crashed run");
        OutputFile.WriteText(output, "first\n");
        Assert.Equal("first\n", File.ReadAllText(output));
        Assert.False(File.Exists(output + ".tmp"));

        // A write that fails half way (a full disk, say) leaves the previous file as it was, and no temporary file.
        var e = Assert.Throws<IOException>(() => OutputFile.Write(output, stream =>
        {
            stream.Write("second, half"u8);
            throw new IOException("No space left on device");
        }));
        Assert.Contains(output, e.Message, StringComparison.Ordinal);
        Assert.Equal("first\n", File.ReadAllText(output));
        Assert.False(File.Exists(output + ".tmp"));
        Assert.Equal("the model", File.ReadAllText(model));
    }

    [SkippableFact]
    public void SigningKeyFile_RefusesDevicesFifosFoldersAndHugeOrShortFiles_WithoutBlocking_NamingTheFile()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        MakeFifo(dir.File("key.fifo"));
        using (var sparse = File.Create(dir.File("key.huge")))
        {
            sparse.SetLength(3L << 30); // 3 GiB of holes: no disk used, and never read
        }

        File.WriteAllBytes(dir.File("key.short"), new byte[SigningKeyFile.MinBytes - 1]);
        File.WriteAllBytes(dir.File("key.largest"), new byte[SigningKeyFile.MaxBytes]);
        File.WriteAllBytes(dir.File("key.over"), new byte[SigningKeyFile.MaxBytes + 1]);
        foreach (var (path, says) in new[]
        {
            ("/dev/zero", "not a regular file"),
            (dir.File("key.fifo"), "not a regular file"),
            (dir.Path, "is a folder"),
            (dir.File("key.huge"), "3,221,225,472 bytes, more than the key size limit of 4,096 bytes"),
            (dir.File("key.over"), "4,097 bytes, more than the key size limit"),
            (dir.File("key.short"), "holds 15 bytes"),
            (dir.File("key.missing"), "does not exist"),
        })
        {
            var e = RunBounded(() => Assert.Throws<ArgumentException>(() => SigningKeyFile.Read(path)));
            Assert.Contains($"Key file '{path}' ", e.Message, StringComparison.Ordinal);
            Assert.Contains(says, e.Message, StringComparison.Ordinal);
        }

        Assert.Equal(SigningKeyFile.MaxBytes, SigningKeyFile.Read(dir.File("key.largest")).Length);
    }

    [Fact]
    public void OutputFile_RefusesPhotoNamesInsideInputFolders_AndOutputFoldersOnInputsOrPhotos()
    {
        using var dir = CopyOfPhotos(3);
        var photo = Directory.GetFiles(dir.Path).Order(StringComparer.Ordinal).First();
        foreach (var output in new[] { photo, dir.File("cat.999.JPG"), dir.File("deeper/dog.1.webp") })
        {
            var e = Assert.Throws<ArgumentException>(() => OutputFile.Prepare(output, [dir.Path]));
            Assert.Contains($"Output '{output}' has a photo extension and lies inside the input folder '{dir.Path}'", e.Message, StringComparison.Ordinal);
        }

        Assert.Equal(dir.File("p.csv"), OutputFile.Prepare(dir.File("p.csv"), [dir.Path])); // not a photo: never listed
        Assert.Equal(dir.File("x.png"), OutputFile.Prepare(dir.File("x.png"), [photo])); // the input is one photo, not the folder
        var marked = OutputFile.PrepareFolder(dir.File("cam"), [dir.Path]); // inside the input, marked: listings skip it
        Assert.Equal(Path.Combine(marked, "sheet.png"), OutputFile.Prepare(Path.Combine(marked, "sheet.png"), [dir.Path]));

        Assert.Contains("is the input folder of this run", Assert.Throws<ArgumentException>(() => OutputFile.PrepareFolder(dir.Path, [dir.Path])).Message, StringComparison.Ordinal);
        Assert.Contains("holds the input", Assert.Throws<ArgumentException>(() => OutputFile.PrepareFolder(dir.Path, [photo])).Message, StringComparison.Ordinal);
        Assert.Contains("already holds photos this tool did not write", Assert.Throws<ArgumentException>(() => OutputFile.PrepareFolder(dir.Path)).Message, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File(PhotoFolder.OutputMarker)));
        Assert.Equal(3, ImageDataset.FromFolder(dir.Path).Count);
        Assert.Equal(marked, OutputFile.PrepareFolder(marked, [dir.Path])); // a second run into its own folder
    }

    private TempDirectory CopyOfPhotos(int count)
    {
        var dir = TestEnvironment.NewTempDirectory();
        foreach (var photo in Directory.GetFiles(tiny.PhotosDirectory).Order(StringComparer.Ordinal).Take(count))
        {
            File.Copy(photo, dir.File(Path.GetFileName(photo)));
        }

        return dir;
    }

    // Runs work that must not hang; a hang fails the test after 60 s instead of stalling the run.
    private static T RunBounded<T>(Func<T> work)
    {
        var task = Task.Run(work);
        Assert.True(((IAsyncResult)task).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(60)), "the call did not return within 60 s");
        return task.GetAwaiter().GetResult();
    }

    private static void MakeFifo(string path)
    {
        Skip.IfNot(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "FIFOs are a Unix thing.");
        Shell("mkfifo \"$0\"", path);
    }

    private static void Shell(string script, params string[] args)
    {
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        Assert.True(process.WaitForExit(10_000), script);
        Assert.True(process.ExitCode == 0, process.StandardError.ReadToEnd());
    }

    private sealed class InlineProgress(Action<CatsDogsProgress> report) : IProgress<CatsDogsProgress>
    {
        public void Report(CatsDogsProgress value) => report(value);
    }
}
