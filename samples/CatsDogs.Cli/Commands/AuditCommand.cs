using System.CommandLine;
using CatsDogs.Cli.Options;
using CatsDogs.ML.Audit;
using CatsDogs.ML.Data;
using Spectre.Console;

namespace CatsDogs.Cli.Commands;

/// <summary><c>catsdogs audit</c>: labelled photos that show no cat or dog, or whose label a confident model contradicts.</summary>
internal static class AuditCommand
{
    public static Command Create(Cli cli)
    {
        var data = new Argument<string>("data-dir") { Description = "Labelled photos to audit." };
        var outPath = new Option<string>("--out", "-o") { Description = "Folder for report.html (with thumbnails) and findings.csv.", Required = true };
        var defaults = new AuditOptions();
        var classifier = new Option<string>("--imagenet") { Description = "Backbone whose ImageNet head names what a photo shows.", DefaultValueFactory = _ => defaults.ImageNetClassifier.Name };
        var topK = new Option<int>("--top-k") { Description = "Flag a photo when none of its top-k ImageNet classes is a cat or a dog (1 to 1000).", DefaultValueFactory = _ => defaults.TopK };
        var confident = new Option<double>("--confident") { Description = "Flag a label when the out-of-fold model gives the other class at least this (0.5 to 1).", DefaultValueFactory = _ => defaults.ConfidentAt };
        var command = new Command("audit", "List labelled photos that show no cat or dog, whose label a confident model contradicts, that are tiny, or whose colours are outliers.") { data, outPath, classifier, topK, confident };
        var training = new TrainingOptions(TrainingOptions.RealBackbones).AddTo(command);
        cli.SetAction(command, (parse, token) =>
        {
            var model = training.Build(parse);
            var options = new AuditOptions
            {
                ImageNetClassifier = training.Catalog(parse).Get(parse.GetRequiredValue(classifier)),
                TopK = parse.GetValue(topK),
                ConfidentAt = parse.GetValue(confident),
                Features = model.Features,
                Head = model.Head,
            }.Validate();
            var output = OutputFile.PrepareFolder(parse.GetRequiredValue(outPath), [parse.GetRequiredValue(data)]);
            var dataset = Photos.Folder(parse.GetRequiredValue(data), token, output);
            var report = cli.WithProgress(progress => DatasetAudit.Run(dataset, options, progress, token));
            cli.ReportSkipped(report.Skipped);
            var html = report.WriteTo(output);
            var table = new Table().Title($"Flagged {report.Findings.Count} of {report.Audited} photos").AddColumns("photo", "label", "P(dog)", "why");
            foreach (var f in report.Findings)
            {
                table.AddRow(Markup.Escape(f.Image.Path), f.Image.Label.ToString()!.ToLowerInvariant(), Cli.F(f.DogProbability, "F3"), Markup.Escape(f.Reason));
            }

            var console = cli.Console();
            console.Write(table);
            console.WriteLine($"Report: {html}; list: {Path.Combine(output, "findings.csv")}");
            return 0;
        });
        return command;
    }
}
