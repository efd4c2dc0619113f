using System.CommandLine;
using System.Globalization;
using CatsDogs.Cli.Options;
using CatsDogs.ML;
using CatsDogs.ML.Data;
using CatsDogs.ML.RabbitMQ;
using CatsDogs.ML.Training;
using Spectre.Console;

namespace CatsDogs.Cli.Commands;

/// <summary><c>catsdogs train</c>: train a classifier on a folder of labelled photos and save it.</summary>
internal static class TrainCommand
{
    public static Command Create(Cli cli)
    {
        var data = new Argument<string>("data-dir") { Description = "Labelled photos: Kaggle names (cat.N.jpg, dog.N.jpg) or cat/ and dog/ folders." };
        var outPath = new Option<string>("--out", "-o") { Description = "Where to save the trained model (zip).", Required = true };
        var signKey = CommonOptions.SignKey();
        var reportDir = new Option<string?>("--report") { Description = "Also write a training report (cross-validated log loss against L2 with the fold spread, the photos left out, timings) into this folder." };
        var inline = new Option<bool>("--inline") { Description = "With --broker: send the photos' bytes to the workers instead of their paths." };
        var timeout = BrokerCliOptions.Timeout("the workers' features (with --broker)");
        var command = new Command("train", "Train a classifier on a folder of labelled photos and save it.") { data, outPath, signKey, reportDir, inline, timeout };
        var training = new TrainingOptions("resnet18").AddTo(command, withPrecision: true);
        var brokerOptions = new BrokerCliOptions(required: false).AddTo(command);
        brokerOptions.Describe("Hand feature extraction to 'catsdogs worker --backbones …' processes on this RabbitMQ broker and fit the head here.");
        cli.SetAction(command, (parse, token) =>
        {
            var options = training.Build(parse);
            var dataDir = parse.GetRequiredValue(data);
            var model = OutputFile.Prepare(parse.GetRequiredValue(outPath), [dataDir]);
            var key = CommonOptions.ReadKey(parse.GetValue(signKey));
            var folder = parse.GetValue(reportDir) is { } r ? OutputFile.PrepareFolder(r, [dataDir]) : null;
            var dataset = Photos.Folder(dataDir, token, folder is null ? [] : [folder]);
            if (brokerOptions.Given(parse))
            {
                if (options.Features.Precision == ML.Features.Precision.Int8)
                {
                    throw new ArgumentException("--broker trains fp32 models only (the workers run the float32 backbones); train int8 without --broker.");
                }

                if (options.Features.Precision == ML.Features.Precision.Auto && options.Features.TrainingPrecision == ML.Features.Precision.Int8)
                {
                    cli.Error.WriteLine("note: with --broker the model is fp32 (the workers compute float32 features); without --broker this CPU would train int8.");
                }

                options = options with { Precision = ML.Features.Precision.Fp32 };

                var broker = brokerOptions.Build(parse);
                cli.WithProgress(progress => BrokerTraining.FillFeatureCacheAsync(options, dataset, broker, parse.GetValue(inline), BrokerCliOptions.TimeoutOf(parse, timeout), cli.Error, progress, token).GetAwaiter().GetResult());
            }

            if (options.Features.Precision == ML.Features.Precision.Int8 && !ML.Features.Precisions.CpuHasInt8DotProduct)
            {
                cli.Error.WriteLine("note: this CPU has no 8-bit dot-product instructions (AVX-VNNI, AVX-512 VNNI or Arm dot product): int8 backbones run on AVX2's saturating kernels here and may be no faster than fp32 (docs/quantization.md).");
            }

            cli.Error.WriteLine($"Training on {dataset.Count} photos ({dataset.CountOf(PetLabel.Cat)} cats, {dataset.CountOf(PetLabel.Dog)} dogs) with {string.Join(" + ", options.Backbones.Select(b => b.Name))}, views {string.Join(", ", options.Views)}, precision {ML.Features.Precisions.Name(options.Features.TrainingPrecision)}{(options.Features.Precision == ML.Features.Precision.Auto ? " (auto)" : "")}.");
            using var classifier = cli.WithProgress(progress => new CatsDogsTrainer(options).Train(dataset, progress, token));
            cli.ReportProviders(classifier);
            var summary = classifier.Training!;
            classifier.Save(model, key);
            cli.ReportSkipped(summary.Skipped);
            var console = cli.Console();
            var table = new Table().Title($"L2 search, {summary.Folds}-fold CV").AddColumns("L2", "log loss", "accuracy");
            foreach (var trial in summary.Trials)
            {
                var mark = trial == summary.Best ? " ←" : "";
                table.AddRow(Cli.F(trial.L2, "G4") + mark, Cli.F(trial.ValidationLogLoss, "F4"), Cli.F(trial.ValidationAccuracy, "P2"));
            }

            console.Write(table);
            foreach (var excluded in summary.Excluded)
            {
                cli.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"left out as likely mislabelled: {excluded.Image.Path} (P(its label) = {excluded.LabelProbability:F3} out of fold)"));
            }

            if (folder is not null)
            {
                cli.Error.WriteLine($"Report: {TrainingReport.Write(summary, folder)}");
            }

            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Trained on {summary.TrainedOn - summary.Excluded.Count} of {summary.TrainedOn} usable photos ({summary.Cats} cats, {summary.Dogs} dogs; {summary.Excluded.Count} left out as likely mislabelled), skipped {summary.Skipped.Count}; "
                + $"features {summary.FeatureTime.TotalSeconds:F1} s, head {summary.HeadTime.TotalSeconds:F1} s. Saved {model}"));
            return 0;
        });
        return command;
    }
}
