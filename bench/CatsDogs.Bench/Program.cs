using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using CatsDogs.ML;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Features;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Onnx;
using CatsDogs.ML.Onnx.Quantization;
using CatsDogs.ML.Training;
using Microsoft.ML.OnnxRuntime;

namespace CatsDogs.Bench;

/// <summary>
/// Side-by-side speed benchmark on real photos, in one run: the raw ONNX Runtime limit on pre-decoded tensors, this
/// library end to end (cold cache), ML.NET's DnnFeaturizeImage ResNet18 pipeline, warm single-photo Predict latency,
/// head training from a warm cache, and peak memory. Throughputs are the median of --repeat runs.
/// Usage: dotnet run --project bench/CatsDogs.Bench -c Release -- [--photos 300] [--repeat 3] [--data DIR] [--models DIR]
/// [--device cuda:0] (build with -p:OnnxRuntime=gpu; the ML.NET pipeline and the memory probes stay on CPU);
/// --help lists the other modes.
/// </summary>
public static class Program
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    // Where the backbones run: cpu (default) or cuda[:N].
    private static string Device { get; set; } = "cpu";

    // Whether that device is a usable GPU (else everything runs on CPU, after one notice).
    private static bool OnGpu { get; set; }

    public static int Main(string[] args)
    {
        var photosOption = new Option<int?>("--photos") { Description = $"Photos measured (default 300; {PrecisionBench.DefaultPhotos} with --precision)." };
        var repeatOption = new Option<int>("--repeat") { Description = "Runs per throughput; the median is printed.", DefaultValueFactory = _ => 3 };
        var dataOption = new Option<string?>("--data") { Description = "Folder of dev photos (default $CATSDOGS_DATA_DIR or ../shared/data/dogs-vs-cats/train)." };
        var modelsOption = new Option<string?>("--models") { Description = "Folder of the MobileNet files (default $CATSDOGS_SHARED_MODELS_DIR or ../shared/models)." };
        var deviceOption = new Option<string>("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };
        var rssProbe = new Option<int?>("--rss-probe") { Description = "Child mode: score N photos, print the peak RSS in MiB.", Hidden = true };
        var profileDecode = new Option<bool>("--profile-decode") { Description = "Where one photo's preprocessing time goes." };
        var batching = new Option<bool>("--batching") { Description = "Raw throughput of batch sizes 1–16 on symbolic-batch graphs." };
        var rssOnly = new Option<bool>("--rss-only") { Description = "Only the peak-memory rows." };
        var graphProbe = new Option<bool>("--graph-probe") { Description = "Time and memory of reading ResNet18's graph and rewriting it to expose its feature map." };
        var quality = new Option<bool>("--quality") { Description = "Views × scales × heads on the dev split and other-pets (docs/results.md)." };
        var honest = new Option<bool>("--honest") { Description = "Candidate default views: old CV, nested CV, held-out and other-pets (issue 23 item 6, docs/results.md)." };
        var int8Option = new Option<bool>("--int8") { Description = "With --honest: every candidate's backbones calibrated on the 80 % and run in int8." };
        var qualityOnly = new Option<string?>("--quality-only") { Description = "With --quality: only view lists containing this text." };
        var brokerOption = new Option<string?>("--broker") { Description = "The broker path's figures on this RabbitMQ broker (default $CATSDOGS_BROKER with --broker-bench)." };
        var brokerBench = new Option<bool>("--broker-bench") { Description = "Broker overhead with a no-op worker, then photos/s with 1, 2 and 3 worker processes (docs/broker.md)." };
        var messagesOption = new Option<int>("--messages") { Description = "With --broker-bench: no-op messages.", DefaultValueFactory = _ => 5000 };
        var webLoad = new Option<bool>("--web-load") { Description = "The web app under load: requests/s, p50 and p95 with 1–8 concurrent clients (README)." };
        var worstPhotos = new Option<bool>("--worst-photos") { Description = "With --web-load: the worst photos of issue 22 on /api/explain (latency, statuses, the app's peak memory; docs/web.md)." };
        var requestsOption = new Option<int>("--requests") { Description = "With --web-load: requests per client count.", DefaultValueFactory = _ => 200 };
        var liveBench = new Option<bool>("--live") { Description = "The page's live camera in headless Chromium: frames scored per second, first scored frame cold and cached, model size (docs/web.md)." };
        var exportBench = new Option<bool>("--export") { Description = "The exported ONNX model's throughput in ONNX Runtime (batch 1 and 8) next to the library's (docs/export.md)." };
        var precision = new Option<bool>("--precision") { Description = "int8 (QDQ) against float32 on the real backbones, side by side (issue 23 item 3): feature cosine, fused operators, file sizes, raw throughput, end to end, the web app, peak memory, pinned workers (with --broker or $CATSDOGS_BROKER); a summary table with the targets last (docs/speed.md)." };
        var trainProbe = new Option<string?>("--train-probe") { Description = "Child mode: train ResNet18 on the photos listed in this file, no cache; print the peak RSS in MiB and the seconds.", Hidden = true };
        var probePrecision = new Option<string>("--probe-precision") { Description = "With --train-probe: the precision.", Hidden = true, DefaultValueFactory = _ => "fp32" };
        var probeOut = new Option<string?>("--probe-out") { Description = "With --train-probe: where the model is saved (after the peak is read).", Hidden = true };
        var scoreProbe = new Option<string?>("--score-probe") { Description = "Child mode: load --probe-model with no cache and score the photos listed in this file; print the peak RSS in MiB, the seconds and the count.", Hidden = true };
        var probeModel = new Option<string?>("--probe-model") { Description = "With --score-probe: the saved model.", Hidden = true };
        var otherPetsOption = new Option<string?>("--other-pets") { Description = "The other-pets photos (default $CATSDOGS_OTHER_PETS_DIR or ../shared/data/other-pets)." };
        var root = new RootCommand("CatsDogs.ML benchmark") { photosOption, repeatOption, dataOption, modelsOption, deviceOption, rssProbe, profileDecode, batching, rssOnly, graphProbe, quality, honest, int8Option, qualityOnly, otherPetsOption, brokerOption, brokerBench, messagesOption, webLoad, worstPhotos, requestsOption, exportBench, precision, liveBench, trainProbe, probePrecision, probeOut, scoreProbe, probeModel };
        root.SetAction(parse =>
        {
            var data = parse.GetValue(dataOption) ?? Environment.GetEnvironmentVariable("CATSDOGS_DATA_DIR") ?? FindShared("data/dogs-vs-cats/train");
            var models = parse.GetValue(modelsOption) ?? Environment.GetEnvironmentVariable("CATSDOGS_SHARED_MODELS_DIR") ?? FindShared("models");
            Device = parse.GetRequiredValue(deviceOption);
            var repeat = parse.GetValue(repeatOption);
            var photos = parse.GetValue(photosOption) ?? 300;
            if (parse.GetValue(rssProbe) is { } probe)
            {
                return RssProbe(data, probe);
            }

            if (parse.GetValue(trainProbe) is { } list)
            {
                return PrecisionBench.TrainProbe(list, models, parse.GetRequiredValue(probePrecision), parse.GetValue(probeOut));
            }

            if (parse.GetValue(scoreProbe) is { } scoreList)
            {
                return PrecisionBench.ScoreProbe(scoreList, parse.GetValue(probeModel) ?? throw new ArgumentException("--score-probe needs --probe-model."), models);
            }

            if (parse.GetValue(precision))
            {
                var uri = parse.GetValue(brokerOption) ?? Environment.GetEnvironmentVariable("CATSDOGS_BROKER");
                return PrecisionBench.Run(data, models, parse.GetValue(photosOption) ?? PrecisionBench.DefaultPhotos, repeat, uri);
            }

            if (parse.GetValue(profileDecode))
            {
                return ProfileDecode(ImageDataset.FromFolder(data).Shuffle(seed: 5).Take(300));
            }

            if (parse.GetValue(batching))
            {
                return BatchingProbe.Run(models, ImageDataset.FromFolder(data).Shuffle(seed: 5).Take(16), repeat);
            }

            if (parse.GetValue(honest))
            {
                var otherPets = parse.GetValue(otherPetsOption) ?? Environment.GetEnvironmentVariable("CATSDOGS_OTHER_PETS_DIR") ?? FindShared("data/other-pets");
                return QualityProbe.Honest(data, models, otherPets, parse.GetValue(int8Option));
            }

            if (parse.GetValue(quality))
            {
                var otherPets = parse.GetValue(otherPetsOption) ?? Environment.GetEnvironmentVariable("CATSDOGS_OTHER_PETS_DIR") ?? FindShared("data/other-pets");
                return QualityProbe.Run(data, models, otherPets, parse.GetValue(qualityOnly));
            }

            if (parse.GetValue(brokerBench) || parse.GetValue(brokerOption) is not null)
            {
                var uri = parse.GetValue(brokerOption) ?? Environment.GetEnvironmentVariable("CATSDOGS_BROKER")
                    ?? throw new ArgumentException("Give --broker amqp://… or set CATSDOGS_BROKER.");
                return BrokerBench.Run(uri, data, photos, parse.GetValue(messagesOption));
            }

            if (parse.GetValue(liveBench))
            {
                return LiveBench.Run(data);
            }

            if (parse.GetValue(exportBench))
            {
                return ExportBench.Run(data, photos);
            }

            if (parse.GetValue(webLoad))
            {
                return parse.GetValue(worstPhotos) ? WebLoadBench.Worst(data) : WebLoadBench.Run(data, parse.GetValue(requestsOption));
            }

            if (parse.GetValue(graphProbe))
            {
                return GraphProbe();
            }

            if (parse.GetValue(rssOnly))
            {
                var total = ImageDataset.FromFolder(data).Count;
                long small = RssOf(500, data), large = RssOf(total, data);
                Console.WriteLine($"| peak RSS scoring 500 photos, ResNet18, {DefaultViews}, no cache (separate process) | {small} MiB |  |");
                Console.WriteLine($"| peak RSS scoring all {total} photos (separate process) | {large} MiB | {(double)large / small:F2} × the 500-photo peak (target ≤ 1.25) |");
                return 0;
            }

            return Full(data, models, photos, repeat);
        });
        return root.Parse(args).Invoke();
    }

    // How the rows name the default views: from ImageView.Defaults, so a change of defaults relabels them.
    private static string DefaultViews => $"default views {string.Join(",", ImageView.Defaults)}";

    private static int Full(string data, string models, int count, int repeat)
    {
        var all = ImageDataset.FromFolder(data);
        var photos = all.Shuffle(seed: 5).Take(count);
        Console.WriteLine($"CatsDogs.ML benchmark — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        using (var header = Backbone.Open(KnownBackbones.ResNet18, models, device: Device))
        {
            OnGpu = header.ExecutionProvider != "CPU";
            Console.WriteLine($"{photos.Count} photos from {data}; median of {repeat} runs; ONNX Runtime on {header.ExecutionProvider}.");
            if (header.ProviderNotice is { } notice)
            {
                Console.WriteLine($"notice: {notice}");
            }
        }

        Console.WriteLine();
        Console.WriteLine("| measure | value | ratio |");
        Console.WriteLine("|---|---:|---|");
        var rows = new RowPrinter();
        var specs = new[] { KnownBackbones.ResNet18, KnownBackbones.MobileNetV2, KnownBackbones.MobileNetV2Tf2, KnownBackbones.MobileNetV1 };
        var limits = new Dictionary<string, double>();
        foreach (var spec in specs)
        {
            using var backbone = Backbone.Open(spec, models, withFeatureMap: false);
            var tensors = Tensors(backbone, photos.Take(Math.Min(64, photos.Count)).ToArray());
            var (bestRate, setting) = RawLimit(spec, backbone.ModelPath, tensors, count, repeat);
            limits[spec.Name] = bestRate;
            rows.Add(($"raw ORT limit {spec.Name} (pre-decoded tensors, {setting})", Rate(bestRate), ""));
        }

        var decode = Median(repeat, () => Time(() => DecodeAll(photos, 224))) / photos.Count;
        rows.Add(("decode + resize + tensor, one photo, one core (SkiaSharp)", Ms(decode), ""));

        foreach (var spec in specs)
        {
            var rate = EndToEnd([spec], models, photos, repeat, [ImageView.Native]);
            rows.Add(($"library end to end {spec.Name}, cold (decode → features)", Rate(rate), $"{rate / limits[spec.Name]:F2} × limit (target ≥ 0.85)"));
            if (spec.Name == "resnet18")
            {
                var mlnet = MlNetResNet18(photos, repeat);
                rows.Add(("ML.NET DnnFeaturizeImage ResNet18 pipeline (LoadImages → ResizeImages → ExtractPixels → DnnFeaturizeImage)", Rate(mlnet), ""));
                rows.Add(("  library ResNet18 vs ML.NET pipeline", "", $"{rate / mlnet:F2} × (target ≥ 2.5)"));
                var averaged = EndToEnd([spec], models, photos, repeat, ImageView.Defaults);
                rows.Add(($"library end to end resnet18, {DefaultViews} ({ImageView.Defaults.Count} runs a photo)", Rate(averaged), $"{ImageView.Defaults.Count * averaged / limits[spec.Name]:F2} × limit per run"));
            }
        }

        var harmonic = 1 / specs.Sum(s => 1 / limits[s.Name]);
        var fused = EndToEnd(specs, models, photos, repeat, [ImageView.Native]);
        rows.Add(("library end to end, four-backbone fusion, cold", Rate(fused), $"{fused / harmonic:F2} × harmonic limit {harmonic:F1}/s (target ≥ 0.85)"));

        var (p50, p95, inference) = PredictLatency(photos, models);
        var runs = ImageView.Defaults.Count;
        rows.Add(($"warm Predict(path), ResNet18, {DefaultViews}, p50 / p95", $"{Ms(p50)} / {Ms(p95)}", $"p50 = {p50 / ((runs * inference) + decode):F2} × ({runs} inferences of {Ms(inference)} + one decode) (target ≤ 1.3)"));

        var (headTime, trainedOn) = WarmTraining(all, models);
        var head = new HeadOptions();
        rows.Add(($"training the head from a warm cache, ResNet18, all {trainedOn} photos (CV {head.L2Grid.Count} L2 × {head.Folds} folds + refit)", $"{headTime:F1} s", "target < 5 s"));

        var rss500 = RssOf(500, data);
        var rssAll = RssOf(all.Count, data);
        rows.Add(($"peak RSS scoring 500 photos, ResNet18, {DefaultViews}, no cache (separate process)", $"{rss500} MiB", ""));
        rows.Add(($"peak RSS scoring all {all.Count} photos (separate process)", $"{rssAll} MiB", $"{(double)rssAll / rss500:F2} × the 500-photo peak (target ≤ 1.25)"));
        return 0;
    }

    // Raw ONNX Runtime throughput on tensors already in memory: the best of one session using every core for each image,
    // and one single-threaded run per core concurrently (what the library does).
    private static (double Rate, string Setting) RawLimit(BackboneSpec spec, string path, float[][] tensors, int count, int repeat)
    {
        var shape = spec.Preprocessing.TensorShape();
        var cores = Environment.ProcessorCount;
        var results = new List<(double, string)>();
        foreach (var (intra, workers, name) in new[] { (cores, 1, $"1 run at a time × {cores} threads"), (1, cores, $"{cores} concurrent runs × 1 thread") })
        {
            using var options = new SessionOptions { IntraOpNumThreads = intra, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            if (OnGpu)
            {
                options.AppendExecutionProvider_CUDA(ExecutionDevice.Parse(Device)!.Value);
            }

            using var session = new InferenceSession(path, options);
            var output = new float[spec.FeatureDimension];
            var outputShape = session.OutputMetadata[spec.PooledOutputName].Dimensions.Select(d => Math.Max(1L, d)).ToArray();
            void RunOne(int i, float[] result)
            {
                using var input = OrtValue.CreateTensorValueFromMemory(tensors[i % tensors.Length], shape);
                using var features = OrtValue.CreateTensorValueFromMemory(result, outputShape);
                session.Run(null, [spec.InputName], [input], [spec.PooledOutputName], [features]);
            }

            RunOne(0, output); // warm-up
            var seconds = Median(repeat, () => Time(() =>
                Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = workers }, () => new float[spec.FeatureDimension], (i, _, buffer) =>
                {
                    RunOne(i, buffer);
                    return buffer;
                }, _ => { })));
            results.Add((count / seconds, name));
        }

        return results.MaxBy(r => r.Item1);
    }

    // The library end to end with no cache: decode, the views, the backbones (int8 with one calibration per spec).
    internal static double EndToEnd(BackboneSpec[] specs, string models, IReadOnlyList<ImageEntry> photos, int repeat, IReadOnlyList<ImageView> views, IReadOnlyList<QuantizationCalibration>? calibrations = null)
    {
        using var backbones = BackboneSet.Open(specs, models, device: Device, inputSizes: views.Select(v => v.InputSize), calibrations: calibrations);
        var extractor = new FeatureExtractor(backbones, views, cache: null);
        extractor.Extract(photos.Take(4).ToArray(), null, default); // warm-up
        return photos.Count / Median(repeat, () => Time(() => extractor.Extract(photos, null, default)));
    }

    // ML.NET's DnnFeaturizeImage pipeline, run by bench/MlNetBaseline in its own process.
    private static double MlNetResNet18(ImageDataset photos, int repeat)
    {
        var dll = BuiltProgram.Find(Path.Combine("bench", "MlNetBaseline"), "MlNetBaseline.dll");
        var list = Path.GetTempFileName();
        File.WriteAllLines(list, photos.Select(p => p.Path));
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true };
        foreach (var a in new[] { dll, list, repeat.ToString(Invariant) })
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var text = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        File.Delete(list);
        return double.Parse(text.Split('\n').Last(), Invariant);
    }

    // p50/p95 of Predict(path) on a trained ResNet18 model (no cache), and one single-threaded ResNet18 inference.
    private static (double P50, double P95, double Inference) PredictLatency(ImageDataset photos, string models)
    {
        using var classifier = new CatsDogsTrainer(new CatsDogsOptions { UseCache = false, Device = Device }).Train(photos.Take(60));
        var latencies = new List<double>();
        foreach (var photo in photos.Take(150))
        {
            var clock = Stopwatch.StartNew();
            classifier.Predict(photo.Path);
            latencies.Add(clock.Elapsed.TotalSeconds);
        }

        latencies.Sort();
        using var backbone = Backbone.Open(KnownBackbones.ResNet18, models, withFeatureMap: false, device: Device);
        var tensor = Tensors(backbone, photos.Take(1).ToArray())[0];
        var features = new float[512];
        backbone.Run(tensor, features);
        var runs = Enumerable.Range(0, 40).Select(_ => Time(() => backbone.Run(tensor, features))).Order().ToArray();
        return (latencies[latencies.Count / 2], latencies[(int)(latencies.Count * 0.95)], runs[runs.Length / 2]);
    }

    // Warms the default cache for all photos (ResNet18, default views), then times a training that only reads it.
    private static (double HeadSeconds, int TrainedOn) WarmTraining(ImageDataset all, string models)
    {
        var trainer = new CatsDogsTrainer(new CatsDogsOptions { ModelsDirectory = models });
        using (trainer.Train(all))
        {
        }

        using var warm = trainer.Train(all);
        return (warm.Training!.HeadTime.TotalSeconds + warm.Training.FeatureTime.TotalSeconds, warm.Training.TrainedOn);
    }

    // Runs this program in --rss-probe mode, so each peak is measured in a fresh process.
    private static long RssOf(int count, string data) => long.Parse(RunChild("--rss-probe", count.ToString(Invariant), "--data", data), Invariant);

    /// <summary>Runs this program with <paramref name="args"/> in a fresh process; returns its standard output, trimmed.</summary>
    /// <exception cref="InvalidOperationException">The child failed (its exit code and standard error).</exception>
    internal static string RunChild(params string[] args)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
        {
            start.ArgumentList.Add(typeof(Program).Assembly.Location);
        }

        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var text = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        return process.ExitCode == 0 ? text : throw new InvalidOperationException($"bench {string.Join(' ', args)} exited with {process.ExitCode}: {error.Result.Trim()}");
    }

    /// <summary>This process's peak resident memory (VmHWM) in MiB.</summary>
    internal static long PeakMiB() => StatusMiB(Environment.ProcessId, "VmHWM");

    /// <summary>A memory field of a process's <c>/proc/PID/status</c> (VmHWM, VmRSS), in MiB.</summary>
    internal static long StatusMiB(int pid, string field) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], Invariant) / 1024;

    // Child mode: score `count` photos with no cache, print the peak RSS in MiB.
    private static int RssProbe(string data, int count)
    {
        var photos = ImageDataset.FromFolder(data).Take(count);
        using var backbones = BackboneSet.Open([KnownBackbones.ResNet18], null);
        new FeatureExtractor(backbones, ImageView.Defaults, cache: null).Extract(photos, null, default);
        Console.WriteLine(PeakMiB().ToString(Invariant));
        return 0;
    }

    // What the typed ONNX messages cost on the largest shipped graph: reading it (every Backbone.Open does, to check
    // the spec) and rewriting it with the feature map as an extra output (what Explain's sessions open), measured as
    // the process's resident memory before any session exists.
    private static int GraphProbe()
    {
        var path = BackboneCatalog.LocateFile(KnownBackbones.ResNet18);
        var bytes = File.ReadAllBytes(path);
        static long Rss() => StatusMiB(Environment.ProcessId, "VmRSS");
        GC.Collect();
        var before = Rss();
        var clock = Stopwatch.StartNew();
        var graph = OnnxGraph.Read(bytes);
        var read = clock.Elapsed.TotalMilliseconds;
        var afterRead = Rss();
        clock.Restart();
        var rewritten = graph.WithOutputs([KnownBackbones.ResNet18.FeatureMapName!]);
        var rewrite = clock.Elapsed.TotalMilliseconds;
        var afterRewrite = Rss();
        Console.WriteLine(string.Create(Invariant,
            $"ResNet18.onnx {bytes.Length / 1048576.0:F1} MiB: read {read:F0} ms (+{afterRead - before} MiB resident), rewrite with the feature map as an output {rewrite:F0} ms (+{afterRewrite - before} MiB in all; {rewritten.Length / 1048576.0:F1} MiB written)"));
        GC.KeepAlive(graph);
        return 0;
    }

    // Where one photo's preprocessing time goes, single-threaded (milliseconds per photo).
    private static int ProfileDecode(ImageDataset photos)
    {
        var input = KnownBackbones.MobileNetV2.Preprocessing;
        var writer = new TensorWriter(input, meanImage: null);
        var rgba = new byte[224 * 224 * 4];
        var tensor = new float[writer.Length];
        double read = 0, decode = 0, render = 0, write = 0;
        for (var pass = 0; pass < 2; pass++)
        {
            read = decode = render = write = 0;
            foreach (var p in photos)
            {
                var clock = Stopwatch.StartNew();
                var bytes = File.ReadAllBytes(p.Path);
                read += clock.Elapsed.TotalMilliseconds;
                clock.Restart();
                using var image = ImageDecoder.Decode(bytes, p.Path, 224);
                decode += clock.Elapsed.TotalMilliseconds;
                clock.Restart();
                image.RenderTo(224, 224, image.Place(224, 224, ViewFraming.CenterCrop, 1), rgba);
                render += clock.Elapsed.TotalMilliseconds;
                clock.Restart();
                writer.Write(rgba, tensor);
                write += clock.Elapsed.TotalMilliseconds;
            }
        }

        Console.WriteLine(string.Create(Invariant, $"read {read / photos.Count:F2} ms, decode {decode / photos.Count:F2} ms, render {render / photos.Count:F2} ms, tensor {write / photos.Count:F2} ms per photo"));
        return 0;
    }

    internal static float[][] Tensors(Backbone backbone, IReadOnlyList<ImageEntry> photos)
    {
        var input = backbone.Spec.Preprocessing;
        var scratch = new RenderScratch();
        return photos.Select(p =>
        {
            using var views = PhotoViews.Decode(File.ReadAllBytes(p.Path), p.Path, Math.Max(input.Width, input.Height), scratch);
            var tensor = new float[backbone.Writer.Length];
            backbone.Writer.Write(views.Render(input, ImageView.Native), tensor);
            return tensor;
        }).ToArray();
    }

    private static void DecodeAll(ImageDataset photos, int size)
    {
        var writer = new TensorWriter(KnownBackbones.MobileNetV2.Preprocessing, meanImage: null);
        var rgba = new byte[size * size * 4];
        var tensor = new float[writer.Length];
        foreach (var p in photos)
        {
            using var image = ImageDecoder.Decode(File.ReadAllBytes(p.Path), p.Path, size);
            image.RenderTo(size, size, image.Place(size, size, ViewFraming.CenterCrop, 1), rgba);
            writer.Write(rgba, tensor);
        }
    }

    internal static double Time(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalSeconds;
    }

    internal static double Median(int repeat, Func<double> measure)
    {
        var values = Enumerable.Range(0, Math.Max(1, repeat)).Select(_ => measure()).Order().ToArray();
        return values[values.Length / 2];
    }

    internal static string Rate(double perSecond) => string.Create(Invariant, $"{perSecond:F1} images/s");

    private static string Ms(double seconds) => string.Create(Invariant, $"{seconds * 1000:F1} ms");

    private static string FindShared(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", relative);
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException($"No shared/{relative} above {AppContext.BaseDirectory}; pass --data / --models.");
    }


    // Prints each row of the table as soon as it is measured.
    private sealed class RowPrinter
    {
        public void Add((string Measure, string Value, string Ratio) row) => Console.WriteLine($"| {row.Measure} | {row.Value} | {row.Ratio} |");
    }
}
