using System.CommandLine;
using System.Globalization;
using CatsDogs.Cli.Options;
using CatsDogs.ML.Data;
using CatsDogs.ML.Evaluation;
using Spectre.Console;

namespace CatsDogs.Cli.Commands;

/// <summary><c>catsdogs fusion-report</c>: every single backbone and every combination on one split, best first.</summary>
internal static class FusionReportCommand
{
    public static Command Create(Cli cli)
    {
        var data = new Argument<string>("data-dir") { Description = "Labelled photos, split into training and held-out photos." };
        var validation = new Option<double>("--validation") { Description = "Share of each class held out for scoring, in (0, 1).", DefaultValueFactory = _ => 0.2 };
        var outPath = new Option<string?>("--out", "-o") { Description = "Also write the table as Markdown to this file." };
        var command = new Command("fusion-report", "Train every single backbone and every combination on one split; print log loss and accuracy, best first.") { data, validation, outPath };
        var training = new TrainingOptions(TrainingOptions.RealBackbones).AddTo(command);
        cli.SetAction(command, (parse, token) =>
        {
            var options = training.Build(parse);
            var share = parse.GetValue(validation);
            if (!(share > 0 && share < 1))
            {
                throw new ArgumentException($"--validation must lie strictly between 0 and 1; got {share.ToString(CultureInfo.InvariantCulture)}.");
            }

            var dataDir = parse.GetRequiredValue(data);
            var file = parse.GetValue(outPath) is { } o ? OutputFile.Prepare(o, [dataDir]) : null;
            var dataset = Photos.Folder(dataDir, token);
            var report = cli.WithProgress(progress => FusionReport.Evaluate(dataset, options.Features, options.Head, share, progress, token));
            cli.ReportSkipped(report.Skipped);
            var table = new Table()
                .Title($"Backbone fusion: trained on {report.TrainCount}, scored on {report.TestCount} held-out photos (seed {options.Seed})")
                .AddColumns("backbones", "features", "log loss", "accuracy", "AUC", "L2", "left out");
            foreach (var row in report.Rows)
            {
                table.AddRow(Markup.Escape(row.Name), row.FeatureDimension.ToString(CultureInfo.InvariantCulture), Cli.F(row.LogLoss, "F4"), Cli.F(row.Accuracy, "P2"), Cli.F(row.Auc, "F4"), Cli.F(row.L2, "G4"), row.Excluded.ToString(CultureInfo.InvariantCulture));
            }

            var console = cli.Console();
            console.Write(table);
            console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Features {report.FeatureTime.TotalSeconds:F1} s, heads {report.HeadTime.TotalSeconds:F1} s."));
            if (file is not null)
            {
                OutputFile.WriteText(file, report.ToMarkdown());
            }

            return 0;
        });
        return command;
    }
}
